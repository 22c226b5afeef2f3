"""The inbox's blueprints: sign-in, cases, attachments, account."""
