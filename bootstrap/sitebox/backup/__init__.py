"""`sitebox backup` and `sitebox restore`: a whole site in one archive, and back."""
