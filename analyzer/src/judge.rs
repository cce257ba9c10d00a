//! The LLM judge (to be written).
