//! The HTTP side of the judge: one chat-completions request to an OpenAI-compatible endpoint,
//! and its failure classified for the retry loop in `Judge::ask`.
//!
//! The body is async-openai's typed `CreateChatCompletionRequest`, sent with reqwest directly:
//! `async_openai::Client` retries 429 and 5xx answers by itself, out of sight of our attempt limit
//! and counters, and always sends an `Authorization` header, which local servers (llama.cpp,
//! Ollama, vLLM) neither need nor expect. The reply is read leniently: only
//! `choices[0].message.content` and `usage` matter, and local servers leave other fields out.
//!
//! A reply is read up to [`MAX_REPLY_BYTES`] (an error body up to [`MAX_ERROR_BYTES`]), chunk by
//! chunk, so a server that answers a gigabyte costs a megabyte of memory and a
//! [`Failure::TooLarge`].

use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_TYPE};
use serde::Deserialize;

use super::render::clip;
use super::Failure;
use crate::{Error, Result};

/// The most bytes of a successful reply that are read. An answer is a score, a rationale cut at
/// a thousand characters and a few event ids: a few KiB, even with a reasoning trace beside it.
pub(crate) const MAX_REPLY_BYTES: usize = 1 << 20;

/// The most bytes of an error reply that are read; only its message is kept.
const MAX_ERROR_BYTES: usize = 64 << 10;

/// A configured endpoint.
#[derive(Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    url: String,
    key: Option<ApiKey>,
}

/// The API key, kept out of `Debug` output.
struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(..)")
    }
}

/// What a successful exchange brought back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    /// `choices[0].message.content`; empty when the model gave none.
    pub content: String,
    /// (prompt, completion) tokens, when the server reported them: its claim, unchecked.
    pub usage: Option<(u64, u64)>,
}

#[derive(Deserialize)]
struct ChatReply {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<UsageReply>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct UsageReply {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

impl Client {
    /// `base_url` is the API root (`http://127.0.0.1:8080/v1`); `key` is sent as a bearer token.
    pub(super) fn new(base_url: &str, key: Option<String>, timeout: Duration) -> Result<Client> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| Error::Judge(format!("failed to build the http client: {e}")))?;
        Ok(Client { http, url: format!("{}/chat/completions", base_url.trim_end_matches('/')), key: key.map(ApiKey) })
    }

    /// Sends `request`, a serialised `CreateChatCompletionRequest`, once.
    pub(super) async fn complete(&self, request: &[u8]) -> Result<Reply, Failure> {
        let mut builder = self
            .http
            .post(&self.url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(request.to_vec());
        if let Some(key) = &self.key {
            builder = builder.bearer_auth(&key.0);
        }
        let response = builder.send().await.map_err(transport)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if !status.is_success() {
            let (body, _) = read_capped(response, MAX_ERROR_BYTES).await.map_err(transport)?;
            let message = error_message(&String::from_utf8_lossy(&body));
            return Err(match status.as_u16() {
                429 => Failure::RateLimited { retry_after, message },
                s if status.is_server_error() => Failure::Server { status: s, message },
                s => Failure::Client { status: s, message },
            });
        }
        let (body, complete) = read_capped(response, MAX_REPLY_BYTES).await.map_err(transport)?;
        if !complete {
            return Err(Failure::TooLarge);
        }
        let reply: ChatReply = serde_json::from_slice(&body)
            .map_err(|e| Failure::InvalidJson(format!("the reply is not a chat completion ({e})")))?;
        let content = reply.choices.into_iter().next().and_then(|c| c.message.content).unwrap_or_default();
        let usage = reply.usage.and_then(|u| match (u.prompt_tokens, u.completion_tokens) {
            (None, None) => None,
            (p, c) => Some((p.unwrap_or(0), c.unwrap_or(0))),
        });
        Ok(Reply { content, usage })
    }
}

/// The body of `response`, read up to `limit` bytes; `false` when there was more (what was
/// read is kept). A `Content-Length` over the limit is refused before anything is read.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<(Vec<u8>, bool), reqwest::Error> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Ok((Vec::new(), false));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, true))
}

/// A request that got no HTTP answer.
fn transport(e: reqwest::Error) -> Failure {
    if e.is_timeout() {
        return Failure::Timeout;
    }
    // reqwest's own message is generic ("error sending request"); the cause is at the bottom.
    let mut cause: &dyn std::error::Error = &e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    Failure::Connection(clip(&cause.to_string(), 200))
}

/// The message of an OpenAI error body (`{"error": {"message": ...}}`), else the body itself.
fn error_message(body: &str) -> String {
    let parsed: Option<String> = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string));
    clip(parsed.as_deref().unwrap_or(body).trim(), 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_come_from_the_openai_error_shape_or_the_body() {
        assert_eq!(error_message(r#"{"error": {"message": "slow down", "type": "rate_limit"}}"#), "slow down");
        assert_eq!(error_message(" upstream died \n"), "upstream died");
        assert_eq!(error_message(&"x".repeat(500)).chars().count(), 200);
    }

    #[test]
    fn the_key_stays_out_of_debug_output() {
        let c =
            Client::new("http://127.0.0.1:1/v1/", Some("sk-secret".into()), Duration::from_secs(1)).expect("client");
        assert_eq!(c.url, "http://127.0.0.1:1/v1/chat/completions");
        assert!(!format!("{c:?}").contains("sk-secret"));
    }
}
