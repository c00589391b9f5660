"""The reference image: a Smalltalk image written in Python that speaks the stui protocol."""
