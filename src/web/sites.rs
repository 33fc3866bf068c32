//! The location filter of the lists that default to the user's own locations (Needs
//! attention, the outbox, the start page): `?location=` read once, here, for all of them.

use serde::Deserialize;

use super::AppState;
use crate::error::{AppError, AppResult};
use crate::usecases::accounts::{self, User};
use crate::usecases::clinic;
use crate::usecases::sites::Sites;

/// `?location=`: empty for "my locations", `all`, or a location's id.
#[derive(Deserialize, Default, Clone)]
pub(super) struct LocationQuery {
    #[serde(default)]
    pub location: String,
}

/// The locations a list shows, and the filter form that chose them.
pub struct SiteFilter {
    /// What the list is filtered to.
    pub sites: Sites,
    /// The value chosen (`""`, `all` or an id), kept in the form and in links.
    pub chosen: String,
    /// The form's choices, (value, label); empty when the clinic has one location, so no
    /// form shows.
    pub options: Vec<(String, String)>,
    /// Every location's id and name, to name each row's location when there are several.
    pub names: Vec<(i64, String)>,
    /// The page's other parameters, carried through the form as hidden fields.
    pub keep: Vec<(String, String)>,
}

impl SiteFilter {
    pub fn shown(&self) -> bool {
        !self.options.is_empty()
    }

    /// The name of a location, when the clinic has several (one location needs no naming).
    pub fn name_of(&self, id: &i64) -> &str {
        match self.shown() {
            true => self
                .names
                .iter()
                .find(|(i, _)| i == id)
                .map_or("", |(_, n)| n.as_str()),
            false => "",
        }
    }
}

/// Reads `?location=` for this user: nothing means the user's own locations (every one for
/// admins and for those assigned to none), `all` every location, an id that one.
pub(super) async fn site_filter(
    state: &AppState,
    user: &User,
    query: &LocationQuery,
) -> AppResult<SiteFilter> {
    let chosen = query.location.trim().to_string();
    let asked = match chosen.as_str() {
        "" => None,
        "all" => Some(Sites::All),
        id => Some(Sites::Only(vec![id.parse::<i64>().map_err(|_| {
            AppError::BadRequest("Unknown location filter.".into())
        })?])),
    };
    let user = user.clone();
    let (sites, locations) = state
        .db(move |conn| {
            let sites = match asked {
                Some(sites) => sites,
                None => accounts::sites_of(conn, &user)?,
            };
            Ok((sites, clinic::locations(conn)?))
        })
        .await?;
    let names: Vec<(i64, String)> = locations.into_iter().map(|l| (l.id, l.name)).collect();
    let options = match names.len() {
        0 | 1 => Vec::new(),
        _ => [
            (String::new(), "My locations".to_string()),
            ("all".to_string(), "All locations".to_string()),
        ]
        .into_iter()
        .chain(names.iter().map(|(id, n)| (id.to_string(), n.clone())))
        .collect(),
    };
    Ok(SiteFilter {
        sites,
        chosen,
        options,
        names,
        keep: Vec::new(),
    })
}
