"""Report categories, their plain-language descriptions and their severity for priority scoring."""

from django.db import models


class Category(models.TextChoices):
    CSAM = "csam", "Child sexual exploitation"
    CHILD_NUDITY = "child_nudity", "Child nudity"
    GROOMING = "grooming", "Grooming or enticement of a child"
    SEXTORTION = "sextortion", "Sextortion"
    SELF_GENERATED = "self_generated", "Image of me, taken when I was under 18"
    VIOLENT_EXTREMISM = "violent_extremism", "Violent extremism"
    HARASSMENT = "harassment", "Harassment or bullying"
    SELF_HARM = "self_harm", "Self-harm or suicide"
    SPAM = "spam", "Spam or scam"
    OTHER = "other", "Something else"


# What a member of the public sees under each choice on the report form.
DESCRIPTIONS = {
    Category.CSAM: "Sexual images or videos of someone under 18, or content sexualising children.",
    Category.CHILD_NUDITY: "Nude images of a child that may not be sexual but should not be shared.",
    Category.GROOMING: "An adult trying to build a sexual or secret relationship with a child.",
    Category.SEXTORTION: "Someone threatening to share intimate images unless they get something.",
    Category.SELF_GENERATED: "A picture or video of you, from when you were under 18, shared without your say.",
    Category.VIOLENT_EXTREMISM: "Content promoting or glorifying terrorism or violent extremism.",
    Category.HARASSMENT: "Targeted abuse, threats or bullying of a person.",
    Category.SELF_HARM: "Content encouraging self-harm or suicide, or someone at risk.",
    Category.SPAM: "Unwanted commercial content, scams or fake accounts.",
    Category.OTHER: "Anything else that breaks the platform's rules.",
}

SEVERITY = {
    Category.CSAM: 400,
    Category.SELF_GENERATED: 380,
    Category.SEXTORTION: 350,
    Category.GROOMING: 330,
    Category.CHILD_NUDITY: 300,
    Category.SELF_HARM: 250,
    Category.VIOLENT_EXTREMISM: 200,
    Category.HARASSMENT: 100,
    Category.OTHER: 30,
    Category.SPAM: 20,
}

CHILD_SAFETY = frozenset(
    {
        Category.CSAM,
        Category.CHILD_NUDITY,
        Category.GROOMING,
        Category.SEXTORTION,
        Category.SELF_GENERATED,
    }
)
