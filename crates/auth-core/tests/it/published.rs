//! The `metrics` feature: the cache's counters reach the `metrics` facade under their
//! documented names, labelled with the cache's name, without the hot path touching it per hit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::{ManualClock, TokenCache};
use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

use crate::support::{CountingSource, unavailable};

/// A recorder that keeps every counter's value and every histogram's samples by name+labels.
#[derive(Default)]
struct Recorded {
    counters: Mutex<HashMap<String, Arc<Value>>>,
    histograms: Mutex<HashMap<String, Arc<Samples>>>,
}

#[derive(Default)]
struct Value(AtomicU64);

impl CounterFn for Value {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::SeqCst);
    }
    fn absolute(&self, value: u64) {
        self.0.fetch_max(value, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct Samples(Mutex<Vec<f64>>);

impl HistogramFn for Samples {
    fn record(&self, value: f64) {
        self.0.lock().unwrap().push(value);
    }
}

fn name(key: &Key) -> String {
    let labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Recorder for Recorded {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let value = Arc::clone(self.counters.lock().unwrap().entry(name(key)).or_default());
        Counter::from_arc(value)
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let samples = Arc::clone(
            self.histograms
                .lock()
                .unwrap()
                .entry(name(key))
                .or_default(),
        );
        Histogram::from_arc(samples)
    }
}

impl Recorded {
    fn counter(&self, name: &str) -> u64 {
        self.counters
            .lock()
            .unwrap()
            .get(&format!("{name}{{cache=podero}}"))
            .map_or(0, |v| v.0.load(Ordering::SeqCst))
    }
}

#[tokio::test]
async fn counters_are_published_under_their_documented_names() {
    let recorder = Recorded::default();
    let clock = ManualClock::at_epoch_2025();
    let source = CountingSource::new(clock.clone(), Some(Duration::from_secs(1000)));
    let cache = metrics::with_local_recorder(&recorder, || {
        TokenCache::builder(source.clone())
            .clock(clock.clone())
            .name("podero")
            .refresh_jitter(0.0)
            .build()
    });
    let token = cache.token().await.unwrap();
    // 3,000 hits: published in batches while they happen, and in full at the next slow path.
    for _ in 0..3_000 {
        cache.token().await.unwrap();
    }
    cache.invalidate(&token);
    cache.token().await.unwrap();
    source.fail_next(unavailable());
    clock.advance(Duration::from_secs(2_000));
    cache.token().await.unwrap_err();

    let metrics = cache.metrics();
    assert_eq!(
        recorder.counter("auth_token_cache_fetches_total"),
        metrics.fetches
    );
    assert_eq!(recorder.counter("auth_token_cache_fetches_total"), 3);
    assert_eq!(
        recorder.counter("auth_token_cache_hits_total"),
        metrics.hits
    );
    assert!(metrics.hits >= 3_000, "{metrics:?}");
    assert_eq!(recorder.counter("auth_token_cache_invalidations_total"), 1);
    assert_eq!(recorder.counter("auth_token_cache_failures_total"), 1);
    assert_eq!(
        recorder.counter("auth_token_cache_waits_total"),
        metrics.waits
    );
    assert_eq!(
        recorder.counter("auth_token_cache_refreshes_ahead_total"),
        0
    );
    assert_eq!(
        recorder.counter("auth_token_cache_refresh_failures_total"),
        0
    );
    assert_eq!(recorder.counter("auth_token_cache_abandoned_total"), 0);
    let waits = recorder
        .histograms
        .lock()
        .unwrap()
        .get("auth_token_cache_wait_seconds{cache=podero}")
        .map_or(0, |s| s.0.lock().unwrap().len());
    assert_eq!(waits as u64, metrics.waits);
}
