//! Redaction of credentials at capture, before anything is written, shipped or judged.
