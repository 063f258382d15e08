"""Resource definitions and their validation, in AWS's words and limits."""
