from django import template

from moderation.review.segments import Timeline, clock, video_timeline

register = template.Library()


@register.simple_tag
def video_timeline_of(media) -> Timeline:
    """A video's matched ranges on its timeline (from its prefetched matches: no query)."""
    return video_timeline(duration=media.duration, matches=media.matches.all())


@register.filter(name="clock")
def clock_filter(seconds) -> str:
    """Seconds as a player shows them: "0:07", "1:02:03"."""
    return clock(seconds)
