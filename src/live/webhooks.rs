//! Outgoing webhooks: every event (status transitions, staleness, feed down and up) is POSTed as
//! JSON to each configured URL, with retries and backoff. Each URL has its own bounded queue and
//! worker, so a slow or failing receiver blocks nothing; when its queue is full, new events for it
//! are dropped and counted.

use super::Hub;
use crate::config::WebhookSettings;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Events waiting per receiver before new ones are dropped.
pub const QUEUE: usize = 1000;

/// Delivery counters for `/metrics`.
#[derive(Debug, Default)]
pub struct WebhookMetrics {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
}

/// Subscribes to the hub now (so that no event published after this call is missed, however
/// soon other tasks publish) and returns the task that forwards the events to every receiver
/// until shutdown.
pub fn forwarder(
    hub: &Hub,
    settings: WebhookSettings,
    metrics: Arc<WebhookMetrics>,
    stop: watch::Receiver<bool>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let (rx, _) = hub.subscribe(None, None);
    run(rx, settings, metrics, stop)
}

async fn run(
    mut rx: tokio::sync::broadcast::Receiver<super::HubMessage>,
    settings: WebhookSettings,
    metrics: Arc<WebhookMetrics>,
    mut stop: watch::Receiver<bool>,
) {
    if settings.urls.is_empty() {
        return;
    }
    let client = match reqwest::Client::builder()
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("pantau/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client; webhooks are off");
            return;
        }
    };
    let mut queues = Vec::new();
    let mut workers = tokio::task::JoinSet::new();
    for url in settings.urls.clone() {
        let (tx, rx) = mpsc::channel::<bytes::Bytes>(QUEUE);
        queues.push(tx);
        workers.spawn(deliver(
            client.clone(),
            url,
            settings.retries,
            rx,
            metrics.clone(),
            stop.clone(),
        ));
    }
    loop {
        let delta = tokio::select! {
            m = rx.recv() => m,
            _ = stop.changed() => break,
        };
        match delta {
            Ok(d) => {
                for event in &d.event_json {
                    for q in &queues {
                        if q.try_send(event.clone()).is_err() {
                            metrics.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "webhooks fell behind the hub; some events were not sent"
                );
                metrics.dropped.fetch_add(n, Ordering::Relaxed);
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
        }
    }
    drop(queues);
    while workers.join_next().await.is_some() {}
}

async fn deliver(
    client: reqwest::Client,
    url: reqwest::Url,
    retries: u32,
    mut rx: mpsc::Receiver<bytes::Bytes>,
    metrics: Arc<WebhookMetrics>,
    mut stop: watch::Receiver<bool>,
) {
    let shown = {
        let mut u = url.clone();
        let _ = u.set_password(None);
        u.set_query(None);
        u.to_string()
    };
    while let Some(body) = rx.recv().await {
        let mut attempt = 0;
        loop {
            let sent = client
                .post(url.clone())
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    metrics.delivered.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                other => {
                    let why = match other {
                        Ok(r) => format!("HTTP {}", r.status().as_u16()),
                        Err(e) => e.to_string(),
                    };
                    if attempt >= retries {
                        tracing::warn!(webhook = %shown, error = %why, "webhook delivery failed; event dropped");
                        metrics.failed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    let backoff = Duration::from_millis(500 * (1 << attempt.min(6)));
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => return,
                    }
                    attempt += 1;
                }
            }
        }
    }
}
