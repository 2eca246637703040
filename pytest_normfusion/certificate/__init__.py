"""The certificate: the machine's description, the records, the JSON document, its Markdown, regressions."""
