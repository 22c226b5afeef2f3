"""The officers' inbox, run offline on 127.0.0.1."""
