//! Alerts: after a complete scan, the findings that are new or regressed since the profile's
//! previous complete scan (`store::diff`) at or above a rule's `min_severity` are POSTed as one
//! JSON document to the rule's webhook. Deliveries run on their own tasks, owned by one
//! dispatcher task: a receiver that hangs or answers 500 delays no scan, no schedule and no other
//! delivery. Each attempt is bounded by the rule's `timeout`; failures (connection, timeout, 5xx,
//! 408, 429) are retried `retries` times with exponential backoff (1 s, 2 s, 4 s … at most 60 s),
//! then given up and logged. Other 4xx answers are not retried.
//!
//! Over https://, the receiver's certificate is verified against the Mozilla roots and the CA
//! certificates of the rule's `ca_file` (a receiver inside the regulator's own PKI).
//!
//! Webhooks are the operator's own outputs, not probes of the scanned infrastructure: they do
//! not go through the scan's `Connector` (and its scope), and are counted in the metrics instead.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::config::AlertRule;
use super::metrics::{Metrics, WebhookLabel};
use crate::checks::model::Severity;
use crate::store::diff::{Change, Diff};

/// Alerts waiting for a delivery task; a burst beyond this is logged and dropped.
pub const QUEUE: usize = 256;
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One webhook to deliver.
#[derive(Debug)]
pub struct Alert {
    pub profile: String,
    pub rule: AlertRule,
    pub body: serde_json::Value,
}

/// The findings of `diff` that `rule` alerts on: new or regressed, at or above its severity.
pub fn matching(diff: &Diff, min: Severity) -> Vec<(&'static str, &Change)> {
    let at_least = |c: &&Change| c.severity.parse::<Severity>().is_ok_and(|s| s >= min);
    let new = diff.new.iter().filter(at_least).map(|c| ("new", c));
    let regressed = diff.regressed.iter().filter(at_least).map(|c| ("regressed", c));
    new.chain(regressed).collect()
}

/// What is POSTed (docs/operations.md, "Alerts").
pub fn body(
    profile: &str,
    country: Option<&str>,
    scan: i64,
    previous: i64,
    rule: &AlertRule,
    diff: &Diff,
    changes: &[(&str, &Change)],
) -> serde_json::Value {
    let findings: Vec<serde_json::Value> = changes
        .iter()
        .map(|(kind, c)| {
            json!({"change": kind, "subject": c.subject, "check": c.check, "severity": c.severity,
                   "before": c.before, "after": c.after})
        })
        .collect();
    json!({
        "event": "postura.findings",
        "profile": profile,
        "country": country,
        "scan": scan,
        "previous_scan": previous,
        "min_severity": rule.min_severity.name(),
        "index": {"before": diff.index.0, "after": diff.index.1},
        "findings": findings,
    })
}

/// The sending side: cheap to clone; `send` never waits.
#[derive(Clone)]
pub struct Alerts(mpsc::Sender<Alert>);

impl Alerts {
    pub fn send(&self, alert: Alert) {
        let profile = alert.profile.clone();
        if let Err(error) = self.0.try_send(alert) {
            tracing::error!(profile, %error, "alert dropped: the delivery queue is full or closed");
        }
    }
}

/// Start the dispatcher. It ends when every `Alerts` is dropped and the deliveries in progress
/// are done (or when its task is dropped).
pub fn start(metrics: Arc<Metrics>) -> (Alerts, tokio::task::JoinHandle<()>) {
    let (sender, mut receiver) = mpsc::channel::<Alert>(QUEUE);
    let task = tokio::spawn(async move {
        let mut deliveries = JoinSet::new();
        loop {
            tokio::select! {
                alert = receiver.recv() => match alert {
                    Some(alert) => { deliveries.spawn(deliver(alert, metrics.clone())); }
                    None => break,
                },
                Some(_) = deliveries.join_next(), if !deliveries.is_empty() => {}
            }
        }
        while deliveries.join_next().await.is_some() {}
    });
    (Alerts(sender), task)
}

async fn deliver(alert: Alert, metrics: Arc<Metrics>) {
    let rule = &alert.rule;
    let url = rule.webhook.as_str();
    let payload = serde_json::to_vec(&alert.body).unwrap_or_default();
    let findings = alert.body["findings"].as_array().map_or(0, Vec::len);
    let mut backoff = Duration::from_secs(1);
    for attempt in 0..=rule.retries {
        let outcome = tokio::time::timeout(rule.timeout, post(rule, payload.clone())).await;
        let (retry, why) = match outcome {
            Ok(Ok(status)) if status.is_success() => {
                tracing::info!(
                    profile = alert.profile,
                    url,
                    status = status.as_u16(),
                    findings,
                    attempt,
                    "alert delivered"
                );
                count(&metrics, &alert.profile, "delivered");
                return;
            }
            Ok(Ok(status)) => {
                let retry = status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
                (retry, format!("answered {status}"))
            }
            Ok(Err(error)) => (true, format!("{error:#}")),
            Err(_) => (true, format!("no answer within {} s", rule.timeout.as_secs())),
        };
        if !retry {
            tracing::error!(profile = alert.profile, url, attempt, why, "alert refused by the receiver; not retried");
            count(&metrics, &alert.profile, "failed");
            return;
        }
        if attempt < rule.retries {
            tracing::warn!(
                profile = alert.profile,
                url,
                attempt,
                why,
                retry_in = backoff.as_secs(),
                "alert not delivered; retrying"
            );
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        } else {
            tracing::error!(
                profile = alert.profile,
                url,
                attempts = attempt + 1,
                why,
                "alert not delivered; giving up"
            );
        }
    }
    count(&metrics, &alert.profile, "failed");
}

fn count(metrics: &Metrics, profile: &str, outcome: &str) {
    metrics.webhooks.get_or_create(&WebhookLabel { profile: profile.to_string(), outcome: outcome.to_string() }).inc();
}

/// One POST; the answer's status (its body is not read).
async fn post(rule: &AlertRule, payload: Vec<u8>) -> anyhow::Result<hyper::StatusCode> {
    let url = &rule.webhook;
    let host = match url.host() {
        Some(url::Host::Domain(name)) => name.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => anyhow::bail!("no host in the URL"),
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
    let authority = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let mut request = hyper::Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::USER_AGENT, concat!("postura/", env!("CARGO_PKG_VERSION")));
    for (name, value) in &rule.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request.body(Full::new(Bytes::from(payload)))?;
    if url.scheme() == "https" {
        let name = rustls_pki_types::ServerName::try_from(host)?;
        let tls = tokio_rustls::TlsConnector::from(tls_config(&rule.roots)?).connect(name, stream).await?;
        exchange(tls, request).await
    } else {
        exchange(stream, request).await
    }
}

async fn exchange<S>(stream: S, request: hyper::Request<Full<Bytes>>) -> anyhow::Result<hyper::StatusCode>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    let mut connection = std::pin::pin!(connection);
    let mut response = std::pin::pin!(sender.send_request(request));
    tokio::select! {
        biased;
        answer = &mut response => return Ok(answer?.status()),
        closed = &mut connection => closed?,
    }
    // The connection ended (the receiver answered and closed it): the answer, if it came, is
    // waiting for the request.
    Ok(response
        .await
        .map_err(|e| anyhow::anyhow!("the receiver closed the connection before answering ({e})"))?
        .status())
}

/// Webhooks over HTTPS are verified against the Mozilla roots and the rule's `ca_file`.
fn tls_config(extra: &[Vec<u8>]) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    roots.add_parsable_certificates(extra.iter().map(|der| rustls_pki_types::CertificateDer::from(der.as_slice())));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(check: &str, severity: &str, before: Option<&str>) -> Change {
        Change {
            subject: "h|443|https|127.0.0.1".into(),
            check: check.into(),
            severity: severity.into(),
            before: before.map(String::from),
            after: Some("fail".into()),
        }
    }

    #[test]
    fn only_new_and_regressed_findings_at_or_above_the_severity_alert() {
        let diff = Diff {
            new: vec![change("a", "high", None), change("b", "low", None)],
            regressed: vec![change("c", "critical", Some("pass")), change("d", "medium", Some("pass"))],
            resolved: vec![change("e", "critical", Some("fail"))],
            unchanged: vec![change("f", "critical", Some("fail"))],
            ..Diff::default()
        };
        let names =
            |min| matching(&diff, min).iter().map(|(kind, c)| format!("{kind} {}", c.check)).collect::<Vec<_>>();
        assert_eq!(names(Severity::High), ["new a", "regressed c"]);
        assert_eq!(names(Severity::Info), ["new a", "new b", "regressed c", "regressed d"]);
        assert!(names(Severity::Critical) == ["regressed c"]);
        let rule = AlertRule {
            webhook: url::Url::parse("http://127.0.0.1/hook").unwrap(),
            min_severity: Severity::High,
            timeout: Duration::from_secs(1),
            retries: 0,
            headers: Vec::new(),
            roots: Vec::new(),
        };
        let body = body("uy", Some("UY"), 7, 6, &rule, &diff, &matching(&diff, Severity::High));
        assert_eq!(body["findings"][1]["change"], "regressed");
        assert_eq!(body["findings"][1]["before"], "pass");
        assert_eq!((body["scan"].as_i64(), body["previous_scan"].as_i64()), (Some(7), Some(6)));
    }
}
