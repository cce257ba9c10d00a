//! Conversations: each message stored once.
//!
//! Agents resend the whole conversation with every request: the system prompt, the tools and
//! every message so far, so a 300-turn session sends its first message 300 times and its tools
//! (tens of KB) as often. [`Conversations::compact`] recognises that a request continues an
//! earlier `llm_call` of the same conversation (same provider, API, system prompt and tools) and
//! keeps only what is new: the messages after the longest prefix it shares with that call,
//! with [`Extends`] naming the call and the length of the prefix. The system prompt and tools
//! are then left out too: they are the earlier call's. A conversation that rewrites its history
//! (compaction, an edited message) shares a shorter prefix, or none, and keeps the rest; a
//! sub-agent with its own system prompt or tools is another conversation.
//!
//! Compaction runs in the collector before anything is written or shipped, and again on
//! `ingest` (a trace recorded in full gets the same result); on a request already compact it
//! changes nothing, it only learns it. [`full_request`] puts a request back together from its
//! chain of calls, exactly. Pure and synchronous; memory is bounded (the last
//! [`CALLS_KEPT`] calls of a session are known).

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{Event, EventBody, LlmCall, LlmRequest, Message, Tool};

/// Calls known per session; a request continuing an older one is stored in full.
pub const CALLS_KEPT: usize = 512;
/// Calls of one conversation compared with a new request.
const CANDIDATES: usize = 8;

/// What a compact request continues (`request.extends` of an `llm_call`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extends {
    /// The earlier `llm_call` ([`Event::id`]) of the same conversation.
    pub event: String,
    /// How many of that call's messages (as [`full_request`] gives them) come first in this
    /// request; `request.messages` holds the ones after them.
    pub messages: usize,
    /// How many tools the request offers (the earlier call's): whether a call offers tools
    /// tells an agent's main conversation from its side calls without the tools at hand.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tools: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What a conversation's requests share: the system prompt and tools of its first request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Head {
    pub system: Option<String>,
    pub tools: Vec<Tool>,
}

#[derive(Debug)]
struct Known {
    id: String,
    key: u64,
    head: Arc<Head>,
    /// One hash per message of the full request.
    hashes: Vec<u64>,
}

/// The calls of one session seen so far (see the module doc).
#[derive(Debug, Default)]
pub struct Conversations {
    calls: HashMap<String, Arc<Known>>,
    order: VecDeque<String>,
    /// Per conversation key, its latest calls, newest last.
    recent: HashMap<u64, VecDeque<Arc<Known>>>,
}

impl Conversations {
    /// Makes an `llm_call`'s request compact when an earlier call of its conversation is known
    /// (other events are left alone), and learns the call. Returns the head it shares (its own
    /// for the first call of a conversation); `None` for an event that is not an `llm_call`.
    pub fn compact(&mut self, ev: &mut Event) -> Option<Arc<Head>> {
        if !matches!(ev.body, EventBody::LlmCall(_)) {
            return None;
        }
        let id = ev.id();
        let EventBody::LlmCall(call) = &mut ev.body else { return None };
        let request = &mut call.request;
        if let Some(ext) = &request.extends {
            // Already compact: learn it from its base (when known) and leave it as it is.
            let base = self.calls.get(&ext.event).cloned();
            let (key, head, mut hashes) = match base {
                Some(b) => (b.key, b.head.clone(), b.hashes[..ext.messages.min(b.hashes.len())].to_vec()),
                None => (0, Arc::new(Head::default()), Vec::new()),
            };
            hashes.extend(request.messages.iter().map(message_hash));
            self.learn(Known { id, key, head: head.clone(), hashes });
            return Some(head);
        }
        let key = conversation_key(call);
        let request = &mut call.request;
        let hashes: Vec<u64> = request.messages.iter().map(message_hash).collect();
        // The candidate sharing the longest prefix; the newest among equals.
        let base = self.recent.get(&key).and_then(|calls| {
            calls
                .iter()
                .rev()
                .map(|c| (common_prefix(&c.hashes, &hashes), c))
                .max_by_key(|(n, _)| *n)
                .map(|(n, c)| (n, c.clone()))
        });
        let head = match base {
            Some((shared, base)) => {
                request.messages.drain(..shared);
                request.system = None;
                request.tools.clear();
                request.extends =
                    Some(Extends { event: base.id.clone(), messages: shared, tools: base.head.tools.len() });
                base.head.clone()
            }
            None => Arc::new(Head { system: request.system.clone(), tools: request.tools.clone() }),
        };
        self.learn(Known { id, key, head: head.clone(), hashes });
        Some(head)
    }

    fn learn(&mut self, known: Known) {
        let known = Arc::new(known);
        if self.calls.insert(known.id.clone(), known.clone()).is_none() {
            self.order.push_back(known.id.clone());
        }
        if known.key != 0 {
            let recent = self.recent.entry(known.key).or_default();
            recent.push_back(known);
            if recent.len() > CANDIDATES {
                recent.pop_front();
            }
        }
        while self.order.len() > CALLS_KEPT {
            if let Some(old) = self.order.pop_front() {
                self.calls.remove(&old);
            }
        }
    }
}

/// The request of `calls[id]` in full: its system prompt, tools and every message, put back
/// together from the chain of calls it extends. `None` when a call of the chain is missing.
pub fn full_request(id: &str, calls: &HashMap<String, &LlmCall>) -> Option<LlmRequest> {
    let mut chain = Vec::new();
    let mut at = id;
    loop {
        let call = calls.get(at)?;
        chain.push(*call);
        match &call.request.extends {
            Some(ext) if chain.len() <= calls.len() => at = &ext.event,
            Some(_) => return None, // a cycle: not a chain of earlier calls
            None => break,
        }
    }
    let root = chain.pop()?;
    let mut full = LlmRequest { extends: None, ..root.request.clone() };
    for call in chain.into_iter().rev() {
        let ext = call.request.extends.as_ref()?;
        if ext.messages > full.messages.len() {
            return None;
        }
        full.messages.truncate(ext.messages);
        full.messages.extend(call.request.messages.iter().cloned());
    }
    Some(full)
}

/// Compacts every `llm_call` of a session's events, in order.
pub fn compact_all(events: &mut [Event]) {
    let mut c = Conversations::default();
    for ev in events {
        c.compact(ev);
    }
}

fn common_prefix(a: &[u64], b: &[u64]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Same provider, API, system prompt and tools: the same conversation.
fn conversation_key(call: &LlmCall) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    call.provider.hash(&mut h);
    call.api.hash(&mut h);
    call.request.system.hash(&mut h);
    for t in &call.request.tools {
        t.name.hash(&mut h);
        t.description.hash(&mut h);
        t.parameters.to_string().hash(&mut h);
    }
    // 0 marks "unknown conversation".
    h.finish().max(1)
}

fn message_hash(m: &Message) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    m.role.hash(&mut h);
    m.content.hash(&mut h);
    m.tool_call_id.hash(&mut h);
    for c in &m.tool_calls {
        c.id.hash(&mut h);
        c.name.hash(&mut h);
        c.arguments.to_string().hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{testing, ToolCall};

    fn msg(role: &str, content: &str) -> Message {
        testing::message(role, content)
    }

    fn call_event(ts: u64, system: &str, messages: Vec<Message>) -> Event {
        let tools =
            vec![Tool { name: "Bash".into(), description: None, parameters: serde_json::json!({"type": "object"}) }];
        let request = LlmRequest { system: Some(system.into()), messages, tools, extends: None };
        let call = LlmCall {
            provider: "anthropic".into(),
            api: "messages".into(),
            url: "https://api.anthropic.com/v1/messages".into(),
            model: Some("m".into()),
            ..testing::llm_call(request, "", Vec::new())
        };
        Event { ppid: 0, ..testing::event("s", ts, 1, EventBody::LlmCall(Box::new(call))) }
    }

    fn request(ev: &Event) -> &LlmRequest {
        match &ev.body {
            EventBody::LlmCall(c) => &c.request,
            _ => unreachable!(),
        }
    }

    /// A growing conversation of `turns` requests: user, then (assistant with a tool call,
    /// tool result) per turn.
    fn conversation(turns: usize, system: &str, t0: u64) -> Vec<Event> {
        let mut messages = vec![msg("user", "fix the tests")];
        let mut out = Vec::new();
        for t in 0..turns {
            out.push(call_event(t0 + t as u64, system, messages.clone()));
            let mut a = msg("assistant", &format!("step {t}"));
            a.tool_calls.push(ToolCall {
                id: format!("c{t}"),
                name: "Bash".into(),
                arguments: serde_json::json!({"command": "pytest"}),
            });
            messages.push(a);
            messages.push(Message { tool_call_id: Some(format!("c{t}")), ..msg("tool", &format!("result {t}")) });
        }
        out
    }

    fn rebuilt(events: &[Event]) -> Vec<LlmRequest> {
        let calls: HashMap<String, &LlmCall> = events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::LlmCall(c) => Some((e.id(), &**c)),
                _ => None,
            })
            .collect();
        events.iter().map(|e| full_request(&e.id(), &calls).expect("a whole chain")).collect()
    }

    #[test]
    fn a_growing_conversation_keeps_each_message_once_and_rebuilds_exactly() {
        let full = conversation(20, "You are a coder.", 100);
        let mut compact = full.clone();
        compact_all(&mut compact);
        let stored: usize = compact.iter().map(|e| request(e).messages.len()).sum();
        let total_messages = request(full.last().unwrap()).messages.len();
        assert_eq!(stored, total_messages, "each message stored once");
        assert!(compact[1..].iter().all(|e| request(e).system.is_none() && request(e).tools.is_empty()));
        assert_eq!(request(&compact[5]).extends, Some(Extends { event: compact[4].id(), messages: 9, tools: 1 }));
        assert!(compact.iter().all(|e| request(e).offers_tools()));
        let want: Vec<LlmRequest> = full.iter().map(|e| request(e).clone()).collect();
        assert_eq!(rebuilt(&compact), want);
        // Compacting again, or a trace already compact, changes nothing.
        let mut again = compact.clone();
        compact_all(&mut again);
        assert_eq!(again, compact);
    }

    #[test]
    fn rewritten_history_shares_only_its_prefix_and_another_system_prompt_is_another_conversation() {
        let mut events = conversation(4, "You are a coder.", 100);
        // Compaction: the agent summarises and starts over from the first message.
        let mut summary = request(&events[3]).messages[..1].to_vec();
        summary.push(msg("user", "Summary of the work so far: ..."));
        events.push(call_event(200, "You are a coder.", summary));
        // A sub-agent, in the same process, with its own system prompt.
        events.push(call_event(201, "You explore files.", vec![msg("user", "find the tests")]));
        let want: Vec<LlmRequest> = events.iter().map(|e| request(e).clone()).collect();
        compact_all(&mut events);
        let rewritten = request(&events[4]);
        assert_eq!(rewritten.extends.as_ref().map(|e| e.messages), Some(1), "shares the first message only");
        assert_eq!(rewritten.messages.len(), 1);
        let sub = request(&events[5]);
        assert!(sub.extends.is_none() && sub.system.as_deref() == Some("You explore files."), "{sub:?}");
        assert_eq!(rebuilt(&events), want);
    }

    #[test]
    fn a_missing_base_or_a_cycle_is_none_not_a_wrong_request() {
        let mut events = conversation(3, "s", 100);
        compact_all(&mut events);
        let calls: HashMap<String, &LlmCall> = events[1..]
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::LlmCall(c) => Some((e.id(), &**c)),
                _ => None,
            })
            .collect();
        assert!(full_request(&events[2].id(), &calls).is_none());
        let mut looped = events[1].clone();
        let own = looped.id();
        if let EventBody::LlmCall(c) = &mut looped.body {
            c.request.extends = Some(Extends { event: own, messages: 0, tools: 0 });
        }
        let calls: HashMap<String, &LlmCall> = [(
            looped.id(),
            match &looped.body {
                EventBody::LlmCall(c) => &**c,
                _ => unreachable!(),
            },
        )]
        .into();
        assert!(full_request(&looped.id(), &calls).is_none());
    }
}
