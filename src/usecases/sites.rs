//! Which of the clinic's locations a list shows, or a user works at.

/// A set of locations: all of them, or only some (by id).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Sites {
    #[default]
    All,
    Only(Vec<i64>),
}

impl Sites {
    pub fn includes(&self, location_id: i64) -> bool {
        match self {
            Sites::All => true,
            Sites::Only(ids) => ids.contains(&location_id),
        }
    }

    /// The ids to filter by, or `None` for every location.
    pub fn ids(&self) -> Option<&[i64]> {
        match self {
            Sites::All => None,
            Sites::Only(ids) => Some(ids),
        }
    }
}
