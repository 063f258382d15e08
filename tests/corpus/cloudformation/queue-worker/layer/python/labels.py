def label(text):
    return f"[orders] {text}"
