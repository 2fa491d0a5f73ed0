//! The daemon's metrics (`prometheus-client`, OpenMetrics text) and its small HTTP server
//! (hyper, HTTP/1.1): `GET /metrics` and `GET /healthz`. Connections are capped
//! ([`MAX_CONNECTIONS`]) and each is bounded in time, so a client that stalls holds nothing.

use std::convert::Infallible;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::checks::model::Severity;
use crate::facts::ScanReport;

/// Connections served at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 64;
/// How long one connection may last (headers must come within 10 s).
const CONNECTION_LIMIT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProfileLabel {
    pub profile: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CountryLabel {
    pub country: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FindingLabel {
    pub country: String,
    pub severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabel {
    pub profile: String,
    /// delivered, failed
    pub outcome: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

fn duration_histogram() -> Histogram {
    // 1 s to about 9 h.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(1.0, 2.0, 16))
}

/// Every metric the daemon exposes (names in docs/operations.md).
pub struct Metrics {
    registry: Registry,
    pub scans: Family<ProfileLabel, Counter>,
    pub scans_failed: Family<ProfileLabel, Counter>,
    pub scans_interrupted: Family<ProfileLabel, Counter>,
    pub last_success: Family<ProfileLabel, FloatGauge>,
    pub duration: Family<ProfileLabel, Histogram, fn() -> Histogram>,
    pub items: Family<ProfileLabel, Counter>,
    pub items_failed: Family<ProfileLabel, Counter>,
    pub failing: Family<FindingLabel, Gauge>,
    pub index: Family<CountryLabel, FloatGauge>,
    pub webhooks: Family<WebhookLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("postura"),
            scans: Family::default(),
            scans_failed: Family::default(),
            scans_interrupted: Family::default(),
            last_success: Family::default(),
            duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            items: Family::default(),
            items_failed: Family::default(),
            failing: Family::default(),
            index: Family::default(),
            webhooks: Family::default(),
        };
        let r = &mut metrics.registry;
        r.register("scans", "Scans run to completion", metrics.scans.clone());
        r.register("scans_failed", "Scans that stopped with an error", metrics.scans_failed.clone());
        r.register(
            "scans_interrupted",
            "Scans stopped by SIGTERM/SIGINT (resumed at the next start)",
            metrics.scans_interrupted.clone(),
        );
        r.register(
            "last_success_timestamp_seconds",
            "When the last complete scan ended (Unix time)",
            metrics.last_success.clone(),
        );
        r.register("scan_duration_seconds", "How long complete scans took", metrics.duration.clone());
        r.register("items_scanned", "Targets, zones and resolvers scanned", metrics.items.clone());
        r.register(
            "items_failed",
            "Items whose probe failed (unreachable, timeout, protocol error…)",
            metrics.items_failed.clone(),
        );
        r.register(
            "failing_findings",
            "Failing findings of the last complete scan, by country and severity",
            metrics.failing.clone(),
        );
        r.register("country_index", "The country index (0–100) of the last complete scan", metrics.index.clone());
        r.register("webhooks", "Alert webhooks, delivered or given up after the retries", metrics.webhooks.clone());
        metrics
    }

    /// A complete scan's figures: failing findings by severity, and the index.
    pub fn record_report(&self, report: &ScanReport) {
        let country = report.country.as_ref().map_or("-".to_string(), |c| c.code.clone());
        let mut counts = [0i64; 5];
        for subject in crate::store::diff::subjects(report) {
            for finding in subject.findings.iter().filter(|f| f.status == crate::checks::model::Status::Fail) {
                counts[finding.severity as usize] += 1;
            }
        }
        for severity in Severity::ALL {
            let label = FindingLabel { country: country.clone(), severity: severity.name().to_string() };
            self.failing.get_or_create(&label).set(counts[severity as usize]);
        }
        if let Some(index) = report.assessment.as_ref().and_then(|a| a.index) {
            self.index.get_or_create(&CountryLabel { country }).set(index);
        }
    }

    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Serve `/metrics` and `/healthz` on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "metrics: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "metrics: too many connections, closing this one");
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(respond(&metrics, &request)) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIMIT, connection).await;
        });
    }
}

fn respond<B>(metrics: &Metrics, request: &hyper::Request<B>) -> hyper::Response<Full<Bytes>> {
    let response = |status: u16, kind: &str, body: String| {
        let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
        if let Ok(value) = hyper::header::HeaderValue::from_str(kind) {
            response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
        }
        response
    };
    if request.method() != hyper::Method::GET && request.method() != hyper::Method::HEAD {
        return response(405, "text/plain", "GET only\n".into());
    }
    match request.uri().path() {
        "/metrics" => response(200, "application/openmetrics-text; version=1.0.0; charset=utf-8", metrics.encode()),
        "/healthz" => response(200, "text/plain", "ok\n".into()),
        _ => response(404, "text/plain", "not found: try /metrics or /healthz\n".into()),
    }
}
