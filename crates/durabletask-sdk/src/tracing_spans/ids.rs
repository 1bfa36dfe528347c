//! Trace ids without an OpenTelemetry pipeline: [`TraceIdsLayer`] gives each span it sees a W3C span context
//! (the parent's trace id, or a new one, and a new span id) and nothing else — no attributes are recorded, nothing
//! is kept after the span closes, nothing is exported.
//!
//! It is what an application installs instead of the `tracing-opentelemetry` bridge when no exporter is
//! configured: trace context still travels through the protocol (an orchestration's activities, an entity's
//! signals) and logs and messages can still name their trace, at the cost of two random numbers and one span
//! extension per span, where the bridge builds every span's OpenTelemetry data only to drop it.
//!
//! The functions of [`super::context`] read and set span contexts through whichever of the two layers is installed.

use std::any::TypeId;
use std::cell::RefCell;
use std::marker::PhantomData;

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};
use tracing::span::{Attributes, Id};
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{Extensions, LookupSpan};

/// The span context [`TraceIdsLayer`] keeps in a span's extensions.
#[derive(Debug, Clone)]
struct SpanIds(SpanContext);

/// A [`Layer`] that gives every span it sees a span context: a child of the nearest ancestor it also saw, or the
/// root of a new sampled trace; [`super::context::set_parent`] makes a remote context its parent instead.
///
/// Filter it like the exporting layer it replaces (`.with_filter(...)`) so that the same spans get ids.
pub struct TraceIdsLayer<S> {
    access: WithIds,
    _subscriber: PhantomData<fn(S)>,
}

impl<S> TraceIdsLayer<S>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    /// A layer for the subscriber `S`.
    pub fn new() -> Self {
        Self {
            access: WithIds(Self::with_span_ids),
            _subscriber: PhantomData,
        }
    }

    /// Calls `f` on the span context of the span `id`, when this layer gave it one.
    fn with_span_ids(dispatch: &Dispatch, id: &Id, f: &mut dyn FnMut(&mut SpanContext)) {
        let Some(subscriber) = dispatch.downcast_ref::<S>() else {
            return;
        };
        if let Some(span) = subscriber.span(id) {
            if let Some(ids) = span.extensions_mut().get_mut::<SpanIds>() {
                f(&mut ids.0);
            }
        }
    }
}

impl<S> Default for TraceIdsLayer<S>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for TraceIdsLayer<S>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn on_new_span(&self, _attributes: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        // Under a per-layer filter, `parent()` is the nearest ancestor this layer saw.
        let parent = span
            .parent()
            .and_then(|parent| parent.extensions().get::<SpanIds>().map(|ids| ids.0.clone()));
        let context = match parent {
            Some(parent) => child_of(&parent),
            None => SpanContext::new(
                random_trace_id(),
                random_span_id(),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
        };
        span.extensions_mut().insert(SpanIds(context));
    }

    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            Some(self as *const Self as *const ())
        } else if id == TypeId::of::<WithIds>() {
            Some(&self.access as *const WithIds as *const ())
        } else {
            None
        }
    }
}

/// How the context functions reach the span contexts of a [`TraceIdsLayer`] through a type-erased [`Dispatch`]
/// (the layer's subscriber type is not known there).
#[derive(Clone, Copy)]
struct WithIds(SpanIdsAccess);

/// Calls the closure on the span context of a span of a dispatcher.
type SpanIdsAccess = fn(&Dispatch, &Id, &mut dyn FnMut(&mut SpanContext));

/// Calls `f` on the span context a [`TraceIdsLayer`] gave the span `id` of `dispatch`, if any.
pub(crate) fn with_span_ids(dispatch: &Dispatch, id: &Id, f: &mut dyn FnMut(&mut SpanContext)) {
    if let Some(access) = dispatch.downcast_ref::<WithIds>() {
        (access.0)(dispatch, id, f);
    }
}

/// The span context a [`TraceIdsLayer`] keeps in a span's extensions, for layers and formatters that hold the
/// span's data (they may run while an event is dispatched, when the default dispatcher cannot be reached).
pub fn span_context_in(extensions: &Extensions<'_>) -> Option<SpanContext> {
    extensions.get::<SpanIds>().map(|ids| ids.0.clone())
}

/// A new span of `parent`'s trace (same flags and state).
fn child_of(parent: &SpanContext) -> SpanContext {
    SpanContext::new(
        parent.trace_id(),
        random_span_id(),
        parent.trace_flags(),
        false,
        parent.trace_state().clone(),
    )
}

thread_local! {
    /// A fast generator per thread, seeded from the operating system (ids must be unique, not secret).
    static RNG: RefCell<SmallRng> = RefCell::new(SmallRng::from_os_rng());
}

fn random_trace_id() -> TraceId {
    loop {
        let id = TraceId::from_bytes(RNG.with_borrow_mut(|rng| rng.random::<u128>()).to_be_bytes());
        if id != TraceId::INVALID {
            return id;
        }
    }
}

fn random_span_id() -> SpanId {
    loop {
        let id = SpanId::from_bytes(RNG.with_borrow_mut(|rng| rng.random::<u64>()).to_be_bytes());
        if id != SpanId::INVALID {
            return id;
        }
    }
}
