"""rasd (رصد): Arabic news story intelligence."""

from rasd.models import Article, Block, Entity, Event, Quote, ReuseLink, Story, TimeRef

__all__ = ["Article", "Block", "Entity", "Event", "Quote", "ReuseLink", "Story", "TimeRef"]
__version__ = "0.1.0"
