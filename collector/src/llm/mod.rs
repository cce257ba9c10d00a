//! LLM API decoding: an HTTP [`crate::http::Exchange`] becomes an `llm_call` event when it
//! speaks a known API, else a compact `http` event.
