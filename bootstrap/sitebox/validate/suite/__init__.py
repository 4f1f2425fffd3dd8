"""The checks of `sitebox validate`, one pytest module per concern."""
