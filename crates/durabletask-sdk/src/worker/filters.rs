//! What the worker tells the engine about itself in `GetWorkItems`: which work items it wants (work-item filters)
//! and what it can do (capabilities).

use crate::proto;
use crate::registry::Registry;

/// Which work items a worker asks the engine for.
///
/// As in the official SDKs, a worker asks for everything unless told otherwise. With several workers serving one
/// task hub with different registries, [`WorkItemFilter::Registered`] keeps each work item away from the workers
/// that cannot run it. Engines that honour filters: the Durable Task Scheduler and durabletask's in-memory engine.
///
/// ```
/// use durabletask_sdk::proto;
/// use durabletask_sdk::worker::{WorkItemFilter, WorkerOptions};
///
/// let options = WorkerOptions::default().with_work_item_filter(WorkItemFilter::Registered);
/// let explicit = WorkItemFilter::Only(proto::WorkItemFilters {
///     orchestrations: vec![proto::OrchestrationFilter { name: "checkout".into(), versions: vec!["2".into()] }],
///     ..Default::default()
/// });
/// # let _ = (options, explicit);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub enum WorkItemFilter {
    /// Every work item of the task hub (no filter is sent).
    #[default]
    Everything,
    /// Only the orchestrators, activities and entities in the worker's registry, any version.
    Registered,
    /// Only these names (and versions). Every name must be in the registry: a worker would fail the work items it
    /// cannot run.
    Only(proto::WorkItemFilters),
}

/// A filter names something the worker's registry does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the work-item filter names {kind} '{name}', which is not registered with this worker")]
pub struct UnregisteredFilterName {
    /// "orchestrator", "activity" or "entity".
    pub kind: &'static str,
    /// The name.
    pub name: String,
}

impl WorkItemFilter {
    /// The filters to send for `registry`, if any.
    pub(super) fn resolve(
        &self,
        registry: &Registry,
    ) -> Result<Option<proto::WorkItemFilters>, UnregisteredFilterName> {
        match self {
            WorkItemFilter::Everything => Ok(None),
            WorkItemFilter::Registered => Ok(Some(proto::WorkItemFilters {
                orchestrations: registry
                    .orchestrator_names()
                    .into_iter()
                    .map(|name| proto::OrchestrationFilter {
                        name: name.to_string(),
                        versions: Vec::new(),
                    })
                    .collect(),
                activities: registry
                    .activity_names()
                    .into_iter()
                    .map(|name| proto::ActivityFilter {
                        name: name.to_string(),
                        versions: Vec::new(),
                    })
                    .collect(),
                entities: registry
                    .entity_names()
                    .into_iter()
                    .map(|name| proto::EntityFilter { name: name.to_string() })
                    .collect(),
            })),
            WorkItemFilter::Only(filters) => {
                let unknown = |kind: &'static str, name: &str| UnregisteredFilterName {
                    kind,
                    name: name.to_string(),
                };
                let orchestrators = registry.orchestrator_names();
                if let Some(filter) = filters
                    .orchestrations
                    .iter()
                    .find(|f| !orchestrators.contains(&f.name.as_str()))
                {
                    return Err(unknown("orchestrator", &filter.name));
                }
                let activities = registry.activity_names();
                if let Some(filter) = filters
                    .activities
                    .iter()
                    .find(|f| !activities.contains(&f.name.as_str()))
                {
                    return Err(unknown("activity", &filter.name));
                }
                let entities = registry.entity_names();
                let mut resolved = filters.clone();
                for filter in &mut resolved.entities {
                    // Entity names are case-insensitive; engines route by the lowercase name.
                    filter.name = filter.name.to_lowercase();
                    if !entities.contains(&filter.name.as_str()) {
                        return Err(unknown("entity", &filter.name));
                    }
                }
                Ok(Some(resolved))
            }
        }
    }
}

/// What this worker announces it can do: it fetches the history of a work item that comes without one
/// (`requiresHistoryStreaming`), as the .NET worker announces by default.
pub(super) fn capabilities() -> Vec<i32> {
    vec![proto::WorkerCapability::HistoryStreaming as i32]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActivityContext, EntityContext, Error, OrchestrationContext};

    fn registry() -> Registry {
        async fn orchestrator(_ctx: OrchestrationContext, _input: ()) -> Result<(), Error> {
            Ok(())
        }
        async fn activity(_ctx: ActivityContext, _input: ()) -> Result<(), Error> {
            Ok(())
        }
        fn entity(_ctx: &mut EntityContext) -> Result<(), Error> {
            Ok(())
        }
        let mut registry = Registry::new();
        registry
            .add_orchestrator("Checkout", orchestrator)
            .and_then(|r| r.add_activity("Charge", activity))
            .and_then(|r| r.add_entity("Cart", entity))
            .unwrap();
        registry
    }

    #[test]
    fn registered_names_become_the_filter() {
        let filters = WorkItemFilter::Registered.resolve(&registry()).unwrap().unwrap();
        assert_eq!(filters.orchestrations[0].name, "Checkout");
        assert_eq!(filters.activities[0].name, "Charge");
        assert_eq!(filters.entities[0].name, "cart");
        assert!(WorkItemFilter::Everything.resolve(&registry()).unwrap().is_none());
    }

    #[test]
    fn explicit_names_must_be_registered() {
        let only = |filters| WorkItemFilter::Only(filters).resolve(&registry());
        let entity = proto::WorkItemFilters {
            entities: vec![proto::EntityFilter { name: "CART".into() }],
            ..Default::default()
        };
        assert_eq!(only(entity).unwrap().unwrap().entities[0].name, "cart");
        let error = only(proto::WorkItemFilters {
            activities: vec![proto::ActivityFilter {
                name: "Refund".into(),
                versions: Vec::new(),
            }],
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the work-item filter names activity 'Refund', which is not registered with this worker"
        );
    }
}
