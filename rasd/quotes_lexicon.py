"""Word lists of :mod:`rasd.quotes`: speech verbs, participles, complementisers, subject stops.

All entries are normalised (rasd.textnorm.normalize: أ/إ/آ->ا، ى->ي، ؤ/ئ->ء، ة->ه). docs/quotes.md
describes how each list is used; the comments say why a word is in or out.
"""

from __future__ import annotations

import re


def forms(perfect: str, imperfect: str = "") -> set[str]:
    """Normalised third-person forms of a speech verb: perfect (m, f, pl) and imperfect."""
    out = {perfect}
    if perfect.endswith("ي"):  # نفى، ادعى، رأى: the final ى drops before ت/وا
        out |= {perfect[:-1] + "ت", perfect[:-1] + "وا"}
    else:
        out |= {perfect + "ت", perfect + "وا"}
    if imperfect:
        out |= {imperfect, "ت" + imperfect[1:], imperfect + "ون"}
    return out


# Verbs that introduce speech, normalised (textnorm.normalize: أ->ا، ى->ي، ؤ->ء). يذكر and يشار are
# left out: "يذكر أن" / "يشار إلى أن" are the writer's asides, not a speaker's words.
SPEECH_VERBS: set[str] = set().union(
    forms("قال", "يقول"), forms("اكد", "يءكد"), forms("اوضح", "يوضح"), forms("اضاف", "يضيف"),
    forms("صرح"), forms("اعلن", "يعلن"), forms("نفي", "ينفي"), forms("اشار", "يشير"),
    forms("لفت", "يلفت"), forms("ذكر"), forms("كشف", "يكشف"), forms("شدد", "يشدد"),
    forms("افاد", "يفيد"), forms("تابع", "يتابع"), forms("اعتبر", "يعتبر"), forms("اردف"),
    forms("استطرد"), forms("نوه"), forms("ابان"), forms("حذر", "يحذر"), forms("زعم", "يزعم"),
    forms("ادعي"), forms("اعترف", "يعترف"), forms("اقر"), forms("اجاب"), forms("علق"),
    forms("ختم"), forms("اختتم"), forms("استدرك"), forms("توقع", "يتوقع"), forms("رجح"),
    forms("اكد"), forms("افصح"), forms("طمان"), forms("اوضح"), forms("بين", "يبين"),
    forms("راي", "يري"), forms("ابلغ"), forms("اعرب"), forms("اعتبر"),
    # A reported finding or a written statement is a quote too (أظهرت دراسة أن، نقلت صحيفة ... أن،
    # كتب المرسل أن، نشرت الصحيفة: أن), and "they agreed that" (أجمعوا على أن) is what they said.
    # Perfect forms only: تظهر، ينقل، تكتب are as often "appears", "transports", "is written".
    forms("اظهر"), forms("نقل"), forms("كتب"), forms("نشر"), forms("اجمع"), forms("تحدث"),
) - {"يعتبر", "تعتبر", "يعتبرون"}  # "يعتبر" is mostly the passive "is considered"
# Verbs that name who is speaking without introducing a clause (أشاد الوزير بـ...، دعا إلى ...):
# they set the speaker that a following وأضاف or مشيرا إلى أن carries over.
STATEMENT_VERBS: set[str] = set().union(
    forms("اشاد"), forms("وصف"), forms("دعا"), forms("طالب"), forms("ثمن"), forms("استعرض"),
    forms("ابدي"), forms("هنا"), forms("اعرب"), forms("حث"), forms("استنكر"), forms("هاجم"),
    forms("انتقد"), forms("ندد"), forms("ادان"), forms("رحب"), forms("قدم"), forms("تقدم"),
    forms("اعاد"), forms("جدد"),
    # قلل من أهمية ... (played down), رفع التهنئة / الشكر (the formula of congratulations).
    forms("قلل"), forms("رفع"),
) | {"دعت", "دعوا"}
# "بين" is also the preposition "between" and "رأي" the noun "opinion": they count only before a
# complementiser, never as the verb that introduces a quote in marks. So do the verbs of writing and
# carrying (نقل، نشر، كتب، أظهر): "نشرت صحيفة «عكاظ»" names a paper, "كتب على لافتة «...»" a sign.
AMBIGUOUS_VERBS = {"بين", "راي", "اعرب"} | forms("اظهر") | forms("نقل") | forms("كتب") | forms("نشر")
# "تحدث" is "spoke about" (تحدث عن ...) far more often than "said that": it reports a clause only
# with a ب complementiser (تحدث والد الشهيد بأنه ...), never with a bare أن or marks.
B_ONLY_VERBS = forms("تحدث")
AMBIGUOUS_VERBS |= B_ONLY_VERBS
# The passive "it was learnt from" (علم من مصدر مطلع أن): the speaker is the source after من. Only
# with من right after it: otherwise علم is "flag" or "science".
PASSIVE_SOURCE_VERBS = {"علم", "وعلم"}
# After "، و" these open the next statement and end a reported clause. Not بين/تبين ("it turned
# out", part of what was reported) nor the statement verbs (، وأبدت الجامعة إمكانية ... is often
# still the reported content).
NEW_STATEMENT_VERBS = (SPEECH_VERBS - AMBIGUOUS_VERBS - {"تبين", "يبين"}) | forms("اعاد") | forms("جدد")
# "نقلت الوكالة عن الوزير أن ...": the speaker is whom the report quotes, after عن.
RELAY_VERBS = forms("نقل")
# A complementiser right after these is a conjunction of the clause, not the verb's (إلا أن، غير أن،
# رغم أن، بعد أن): the search for the reported clause goes on past it.
NOT_COMPLEMENTISING = {"الا", "غير", "رغم", "برغم", "بالرغم", "بيد", "لولا", "لو", "حتي", "بعد", "قبل",
                        "منذ", "كما", "مجرد", "بمجرد"}
PARTICIPLES = {
    p + s
    for p in ("مشير", "لافت", "مءكد", "موضح", "مضيف", "مبين", "منوه", "معتبر", "مشدد", "محذر",
              "متوقع", "مستدرك", "مردف", "معلن", "نافي", "مستطرد", "مفيد", "قاءل", "كاشف", "معترف")
    for s in ("ا", "ه", "ين", "ون")
}
COMPLEMENTISERS = {
    pre + "ان" + suf for pre in ("", "ب") for suf in ("", "ه", "ها", "هم", "هما", "هن", "نا", "ني", "ك")
}
BARE_COMPLEMENTISERS = {"ان", "بان", "فان"}
# Words that end a subject: prepositions and adverbs that open an adjunct (في تصريح، خلال، أمس),
# relative pronouns (الذي يزور...), and the لـ of "قال لـ«الرياض»".
SUBJECT_STOPS = {
    "في", "خلال", "عبر", "امس", "اليوم", "اثناء", "عقب", "لدي", "ضمن", "حيث", "الذي", "التي",
    "الذين", "بعد", "قبل", "منذ", "مساء", "صباح", "ظهر", "ايضا", "كذلك", "علي", "عن", "من", "ل",
    "الي", "له", "لها", "لهم", "امام", "بين", "عند", "بدوره", "بدورها", "من جهته", "انه", "ان",
    "وذلك", "مع", "اثر", "حول", "بشان", "اذ", "خاص", "خاصه", "صحفي", "تصريحات", "بيان",
    # Adverbs and time phrases right after the verb (أعلن بعدها بأربعة أيام أنه، أكدت مسبقا أن):
    # the subject is then a pronoun, and the speaker the one carried over.
    "بعدها", "بعده", "بعدهم", "قبلها", "قبله", "مسبقا", "سابقا", "لاحقا", "مءخرا", "حينها", "وقتها",
    "يومها", "انذاك", "حينذاك", "مجددا", "غدا", "الان", "ثانيه", "مره", "بدورهم",
    # The verb's object "his saying" (وتابع قوله «...»، ونقل عنه قوله): the speaker is carried over.
    # Not حديثه: normalised it is also حديثة "recent" (أظهرت دراسة حديثة أن).
    "قوله", "قولها", "قولهم", "بقوله", "بقولها", "بالقول", "تصريحه", "تصريحها", "حديثها",
    "كلمته", "كلمتها",
    # The object of قدّم/رفع/جدد (وقدم التهنئة للفارس، رفع الأمير ... التهنئة لخادم الحرمين): a
    # subject ends before it, and one that starts with it names nobody.
    "التهنءه", "التهاني", "الشكر", "التعازي", "العزاء", "التحيه", "التبريكات", "الاعتذار",
    # A relative participle ends the subject: بيان صحافي صدر عن المنظمة / البيان الصادر عن ...
    "صدر", "الصادر", "صادر",
}
# A document written right after the verb is its subject (وأوضح بيان صحافي ... أن), though after
# another word it opens an adjunct (قال الوزير في بيان، أكدت الوزارة بيان ...).
DOCUMENT_SUBJECTS = {"بيان"}
# A manner participle right after the verb (وقال مستشهداً بالأبيات، وأضاف مستهجناً:) says how, not
# who: a word of five letters or more in م...ا (the accusative ḥāl) is no subject. Country names in
# م...يا (أكدت ماليزيا أن، موريتانيا) count only with the tanween written (مبديًا); these are names.
MANNER_NOT = {"مصطفا", "مرتضا", "مجتبا", "مالطا", "مولدوفا", "ميلانو", "موناكو"}
# Before a bare verb these say "for his part" and open a new statement (ومن جانبه قال ...: إن).
STATEMENT_OPENERS = {"جانبه", "جانبها", "جانبهم", "جهته", "جهتها", "جهتهم", "بدوره", "بدورها",
                     "بدورهم", "ناحيته", "ناحيتها"}
SUBJECT_STOP_PREFIXES = ("لل", "لوكال", "لصحيف", "لقنا", "لموقع", "لجريد", "لمراسل", "لمجله", "لشبك")
# A subject written before its verb (مبارك العصيمي الذي أكد أن، وكانت بريطانيا أعلنت أن) is read
# backwards from the verb, over a relative pronoun, up to punctuation or one of these: particles,
# auxiliaries and pronoun-bearing conjunctions mean the subject is elsewhere (إلا أنه أعلن، وقد أكد).
RELATIVES = {"الذي", "التي", "الذين", "اللذين", "اللتين", "اللذان", "اللتان"}
BEFORE_STOPS = SUBJECT_STOPS | RELATIVES | {
    "قد", "ثم", "كما", "لكن", "لكنه", "لكنها", "ولكن", "ولكنه", "فيما", "بينما", "حين", "عندما", "كان",
    "كانت", "كانوا", "ما", "لا", "لم", "لن", "هو", "هي", "هم", "الا", "اما", "لسان", "بل", "او", "و",
    "اذا", "لما", "كل", "بعدما", "حيث", "ايضا", "كذلك",
}
# In a name, علي is Ali, not the preposition على (محمد بن علي الشهري).
NAME_LINKS = {"بن", "ابن", "بنت", "ابو", "ابي", "ال"}
# So is علي spelt with ي right after the verb and before أن (وأضاف علي أن), except after the verbs
# that take على (أكد على أن، شدد على أن), which some pages spell علي.
ALA_VERBS = forms("اكد", "يءكد") | forms("شدد", "يشدد") | forms("علق") | forms("اجاب") | forms("اجمع") | forms("نوه")
# The verb's object "his saying" before a colon or a mark (نقلت الوكالة عن المتحدث قوله: "...").
SAYING = {"قوله", "قولها", "قولهم", "بقوله", "بقولها"}
# "أكد على أهمية أن" / "أعرب عن أمله في أن": the verb has an object and the أن belongs to it.
OBJECT_HEADS = ("اهميه", "ضروره", "امل", "سعاد", "ثقت", "ترحيب", "تطلع", "رغبت", "استعداد", "حرص",
                 "قلق", "تمني", "شكر", "اعتزاز", "حاج", "وجوب", "اسف", "ارتياح", "تقدير")
# A pair of marks right after these is the title of a course, campaign or study, not speech.
TITLE_WORDS = {
    "بعنوان", "عنوان", "شعار", "اسم", "مسمي", "حمله", "برنامج", "مهرجان", "مبادره", "وسم", "هاشتاق",
    "كتاب", "فيلم", "مسلسل", "روايه", "قصيده", "ديوان", "دوره", "مسابقه", "جايزه", "بطوله", "ندوه",
    "ملتقي", "معرض", "تطبيق", "عمليه", "دراسه", "مشروع", "منتدي", "مءتمر", "ورشه", "محاضره",
}
# Postposed attributions: "..., هذا ما أكده الوزير" / "... حسبما نشرته صحيفة".
POSTPOSED_LEADS = {"حسبما", "وحسبما", "بحسبما"}
PUBLISH_VERBS = {"نشر", "نشرت", "اورد", "اوردت", "جاء", "ورد", "اوردته", "نشرته"}
ATTRIBUTIONS = {"حسب", "بحسب", "وفقا", "طبقا", "نقلا", "وفق"}
# An attribution names a source; "حسب الخطة" or "وفقا للنظام" only say "according to a rule".
SOURCE_HEADS = {
    "مصادر", "مصدر", "المصدر", "المصادر", "وكاله", "الوكاله", "صحيفه", "الصحيفه", "بيان", "البيان",
    "تقرير", "التقرير", "وزاره", "الوزاره", "هيءه", "الهيءه", "المتحدث", "متحدث", "الناطق", "مسءول",
    "مسءولين", "مسءولون", "المسءول", "شهود", "ناشطين", "ناشطون", "مراسل", "مراسلنا", "موقع", "قناه",
    "القناه", "الشرطه", "الجيش", "مكتب", "شبكه", "مركز", "المركز", "الامم", "وسايل", "تصريحات",
    "التلفزيون", "التليفزيون", "الاذاعه", "الرءاسه", "رءاسه", "مديريه", "المديريه", "ادارة", "اداره",
    "الاداره", "الحكومه", "حكومه", "السلطات", "مجلس", "المجلس", "منظمه", "المنظمه", "الوزير", "وزير",
    "رءيس", "الرءيس", "مدير", "المدير", "الدكتور", "الشيخ", "الامير", "اللواء", "العميد", "العقيد",
    "المقدم", "مصلحه", "خبراء", "الخبراء", "مراقبين", "محللين", "وثيقه", "رساله", "مسءولي", "دراسه",
    "الدراسه", "الشكوي", "شكوي", "احصاءيات", "الاحصاءيات", "الموقع",
    # "وبحسب أحد الدلالين في السوق فإن": one of a group of people is a source.
    "احد", "بعض",
}
# "بحسب ما أفادت مصادر" / "حسب ما ذكره": the attribution is postposed, like حسبما; بحسبم is a
# typo for بحسب seen in news text (بحسبم ما أفادت).
SPLIT_POSTPOSED = {"حسب", "بحسب", "وبحسب", "وحسب", "بحسبم"}
# Between a role and the name in apposition only a comma and rank words may stand:
# "المتحدث باسم الحماية المدنية، العقيد مراد الزين".
APPOSITION_GAP = re.compile(
    r"^[\s،,]*(?:(?:ال)?(?:عقيد|عميد|لواء|فريق|مقدم|رائد|نقيب|دكتورة|دكتور|سيدة|سيد|مهندسة|مهندس|شيخ|"
    r"أستاذ|استاذ|د\.)\s+)*$"
)
