// rasd: the only script (CSP script-src 'self'). Clicking a legend key on an article page
// hides or shows that kind of highlight; nothing else needs JavaScript.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const legend = document.getElementById("legend");
  const text = document.getElementById("text");
  if (!legend || !text) return;
  for (const key of legend.querySelectorAll(".k")) {
    key.setAttribute("role", "button");
    key.setAttribute("tabindex", "0");
    key.setAttribute("aria-pressed", "true");
    const kind = [...key.classList].find((c) => c !== "k");
    const toggle = () => {
      const off = text.classList.toggle("no-" + kind);
      key.classList.toggle("off", off);
      key.setAttribute("aria-pressed", String(!off));
    };
    key.addEventListener("click", toggle);
    key.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); } });
  }
});
