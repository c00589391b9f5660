"""stui.actors — trio actors: one per image, a supervisor over them, and the transports they own."""
