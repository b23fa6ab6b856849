//! Fault injection and request counters. Rules are set at start
//! ([`crate::SandboxConfig::faults`]) or at run time through the admin
//! endpoint (`POST /sandbox/admin/faults`); counters are read from
//! `GET /sandbox/admin/counters` (benchmarks use them).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::status::ApiError;

/// What an injected fault does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum FaultAction {
    /// Delay the request, then serve it.
    Latency { ms: u64 },
    /// Answer with this status instead of serving (429 gets Retry-After).
    Status {
        code: u16,
        #[serde(default, rename = "retryAfter")]
        retry_after: Option<u64>,
    },
    /// 409 Conflict, as for a stale resourceVersion.
    Conflict,
    /// End a watch stream after this many events (0: at once).
    DropWatch {
        #[serde(default, rename = "afterEvents")]
        after_events: u64,
    },
    /// Answer a watch with 410 Gone (an ERROR event, as Kubernetes does).
    Gone,
}

/// One fault rule: which requests it hits and how often.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Kubernetes verb (`get`, `list`, `watch`, `create`, `update`, `patch`,
    /// `delete`, `deletecollection`); any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    /// Resource plural (`deployments`); any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(flatten)]
    pub action: FaultAction,
    /// Probability in 0..=1 that a matching request is hit (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// How many requests to hit before the rule expires (default: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

/// What the request pipeline must do for one request.
#[derive(Debug, Default)]
pub struct Verdict {
    pub delay: Option<Duration>,
    pub fail: Option<ApiError>,
    pub drop_watch_after: Option<u64>,
    pub gone: bool,
}

struct Inner {
    rules: Vec<FaultRule>,
    counters: BTreeMap<String, u64>,
    rng: u64,
}

/// The fault rules and counters of one sandbox.
pub struct Faults {
    inner: Mutex<Inner>,
}

const MUTATING: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];

impl Faults {
    pub fn new(rules: Vec<FaultRule>, seed: u64) -> Self {
        Faults { inner: Mutex::new(Inner { rules, counters: BTreeMap::new(), rng: seed | 1 }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts the request and decides which faults hit it.
    pub fn on_request(&self, verb: &str, resource: &str) -> Verdict {
        let mut inner = self.lock();
        *inner.counters.entry(format!("{verb} {resource}")).or_default() += 1;
        let mut verdict = Verdict::default();
        let mut i = 0;
        while i < inner.rules.len() {
            let rule = &inner.rules[i];
            let applies = rule.verb.as_deref().is_none_or(|v| v == verb)
                && rule.resource.as_deref().is_none_or(|r| r == resource);
            if !applies {
                i += 1;
                continue;
            }
            let rate = rule.rate.unwrap_or(1.0);
            // xorshift64: reproducible for a given seed.
            let mut x = inner.rng;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            inner.rng = x;
            let roll = (x >> 11) as f64 / (1u64 << 53) as f64;
            if roll >= rate {
                i += 1;
                continue;
            }
            let rule = &mut inner.rules[i];
            match &rule.action {
                FaultAction::Latency { ms } => verdict.delay = Some(Duration::from_millis(*ms)),
                FaultAction::Status { code, retry_after } => {
                    let reason = match code {
                        429 => "TooManyRequests",
                        500 => "InternalError",
                        503 => "ServiceUnavailable",
                        504 => "Timeout",
                        _ => "InternalError",
                    };
                    let mut e = ApiError::new(*code, reason, format!("injected fault: {code} for {verb} {resource}"));
                    e.retry_after = retry_after.or((*code == 429).then_some(1));
                    verdict.fail.get_or_insert(e);
                }
                FaultAction::Conflict => {
                    verdict.fail.get_or_insert(ApiError::new(
                        409,
                        "Conflict",
                        format!("Operation cannot be fulfilled on {resource}: the object has been modified; please apply your changes to the latest version and try again (injected fault)"),
                    ));
                }
                FaultAction::DropWatch { after_events } => verdict.drop_watch_after = Some(*after_events),
                FaultAction::Gone => verdict.gone = true,
            }
            match rule.count {
                Some(1) => {
                    inner.rules.remove(i);
                }
                Some(n) => {
                    rule.count = Some(n - 1);
                    i += 1;
                }
                None => i += 1,
            }
        }
        verdict
    }

    pub fn add(&self, rule: FaultRule) {
        self.lock().rules.push(rule);
    }

    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    pub fn rules(&self) -> Vec<FaultRule> {
        self.lock().rules.clone()
    }

    /// `{"requests": {"get deployments": 3, ...}, "total": N, "mutating": M}`.
    pub fn counters(&self) -> Value {
        let inner = self.lock();
        let total: u64 = inner.counters.values().sum();
        let mutating: u64 = inner
            .counters
            .iter()
            .filter(|(k, _)| MUTATING.contains(&k.split(' ').next().unwrap_or_default()))
            .map(|(_, v)| v)
            .sum();
        json!({"requests": inner.counters, "total": total, "mutating": mutating})
    }

    pub fn reset_counters(&self) {
        self.lock().counters.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_rule_expires() {
        let rule: FaultRule =
            serde_json::from_value(json!({"verb": "patch", "action": "status", "code": 429, "count": 2})).unwrap();
        let faults = Faults::new(vec![rule], 7);
        assert_eq!(faults.on_request("patch", "deployments").fail.unwrap().retry_after, Some(1));
        assert!(faults.on_request("get", "deployments").fail.is_none());
        assert!(faults.on_request("patch", "services").fail.is_some());
        assert!(faults.on_request("patch", "services").fail.is_none());
        let counters = faults.counters();
        assert_eq!(counters["requests"]["patch services"], 2);
        assert_eq!(counters["mutating"], 3);
        assert_eq!(counters["total"], 4);
    }

    #[test]
    fn rates_hit_about_that_share() {
        let rule: FaultRule = serde_json::from_value(json!({"action": "conflict", "rate": 0.25})).unwrap();
        let faults = Faults::new(vec![rule], 42);
        let hits = (0..4000).filter(|_| faults.on_request("update", "x").fail.is_some()).count();
        assert!((800..1200).contains(&hits), "{hits}");
    }
}
