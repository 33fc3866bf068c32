//! Who sees what (#25): Needs attention, the outbox and the start page default to the user's
//! own locations, with a filter for all or one; admins see every location; only admins assign
//! users to locations.

use aftercare::usecases::store::{self, locations::LocationFields};
use chrono::Duration;

use crate::checkins::multipart;
use crate::helpers::*;

struct Sites {
    app: TestApp,
    admin: reqwest::Client,
    london: i64,
    camden: i64,
}

/// A configured clinic with two locations, London (the first) and Camden, and a worried
/// check-in on a treatment at each: Maya Patel's in London, Ben Okafor's in Camden.
async fn two_sites(app: TestApp) -> Sites {
    app.configure_clinic("Glow Clinic", "desk@glow.example")
        .await;
    let now = app.now();
    let (london, camden) = with_conn(&app, move |conn| {
        let first = store::locations::first_id(conn).unwrap();
        let row = store::locations::get(conn, first).unwrap().unwrap();
        let fields = |name: &str| LocationFields {
            name: name.into(),
            ..row.fields.clone()
        };
        store::locations::update(conn, first, &fields("London"), now).unwrap();
        let second = store::locations::insert(conn, &fields("Camden"), now).unwrap();
        (first, second)
    })
    .await;
    let admin = app.signed_in("admin").await;
    let when = clinic_time(-Duration::hours(1));
    for (name, email, location) in [
        ("Maya Patel", "maya@example.com", london),
        ("Ben Okafor", "ben@example.com", camden),
    ] {
        let location = location.to_string();
        let (_, treatment) = app
            .patient_with_treatment(
                &admin,
                name,
                email,
                &[
                    ("treated_at", when.as_str()),
                    ("area_0", "cheeks"),
                    ("depth_0", "1.0"),
                    ("location", location.as_str()),
                ],
            )
            .await;
        worried(&app, treatment).await;
    }
    Sites {
        app,
        admin,
        london,
        camden,
    }
}

/// The patient answers "Worried" on the treatment's check-in page.
async fn worried(app: &TestApp, treatment: i64) {
    let url = app.state.links.checkin(treatment);
    let path = url[url.find("/checkin/").unwrap()..].to_string();
    let patient = new_client();
    let html = app.get_text_with(&patient, &path).await;
    let key = hidden_value(&html, "form_key").expect("the form has its key");
    let (content_type, body) = multipart(&[("form_key", &key), ("answer", "worried")], None);
    let r = app
        .post_multipart(&patient, &path, (content_type, body))
        .await;
    assert!(r.status().is_success(), "check-in recorded: {}", r.status());
}

/// A new user with this role, working at London only, signed in.
async fn at_london(s: &Sites, role: &str) -> (i64, reqwest::Client) {
    let email = format!("{role}-london@clinic.example");
    let id = s.app.add_user(&email, role).await;
    let london = s.london;
    with_conn(&s.app, move |conn| {
        store::users::set_locations(conn, id, &[london]).unwrap()
    })
    .await;
    let client = new_client();
    let r = s.app.log_in_with(&client, &email, PASSWORD).await;
    assert_eq!(r.status().as_u16(), 303, "signed in");
    (id, client)
}

async fn needs_attention_defaults_to_the_users_locations_with_a_filter(app: TestApp) {
    let s = two_sites(app).await;
    let (_, practitioner) = at_london(&s, "practitioner").await;

    let mine = s.app.get_text_with(&practitioner, "/attention").await;
    assert!(mine.contains("Maya Patel"), "{mine}");
    assert!(!mine.contains("Ben Okafor"), "{mine}");
    // The filter, labelled, with "My locations" chosen; each row names its location.
    assert!(mine.contains("<label for=\"location\">Location</label>"));
    assert!(mine.contains("<option value=\"\" selected>My locations</option>"));
    assert!(mine.contains("<option value=\"all\">All locations</option>"));
    assert!(mine.contains(&format!("<option value=\"{}\">Camden</option>", s.camden)));
    assert!(mine.contains("<span class=\"location\">London</span>"));

    let all = s
        .app
        .get_text_with(&practitioner, "/attention?location=all")
        .await;
    assert!(
        all.contains("Maya Patel") && all.contains("Ben Okafor"),
        "{all}"
    );

    let camden = format!("/attention?location={}", s.camden);
    let other = s.app.get_text_with(&practitioner, &camden).await;
    assert!(other.contains("Ben Okafor") && !other.contains("Maya Patel"));

    let bad = s
        .app
        .get_with(&practitioner, "/attention?location=camden")
        .await;
    assert_eq!(bad.status().as_u16(), 400);

    // Admins see every location by default.
    let admin = s.app.get_text_with(&s.admin, "/attention").await;
    assert!(admin.contains("Maya Patel") && admin.contains("Ben Okafor"));
    // The start page's recent treatments follow the same default.
    let home = s.app.get_text_with(&practitioner, "/").await;
    assert!(home.contains("Maya Patel") && !home.contains("Ben Okafor"));
}

async fn the_outbox_defaults_to_the_users_locations(app: TestApp) {
    let s = two_sites(app).await;
    let (_, staff) = at_london(&s, "staff").await;
    let mine = s.app.get_text_with(&staff, "/outbox").await;
    assert!(mine.contains("Maya Patel"), "{mine}");
    assert!(!mine.contains("Ben Okafor"), "{mine}");
    let all = s.app.get_text_with(&staff, "/outbox?location=all").await;
    assert!(all.contains("Maya Patel") && all.contains("Ben Okafor"));
    // The view's links keep the location chosen.
    assert!(all.contains("location=all"));
}

async fn only_admins_assign_users_to_locations(app: TestApp) {
    let s = two_sites(app).await;
    let (practitioner_id, practitioner) = at_london(&s, "practitioner").await;
    let path = format!("/admin/users/{practitioner_id}/locations");
    let camden = format!("location_{}", s.camden);

    let r = s
        .app
        .post_form_with(&practitioner, &path, &[(camden.as_str(), "on")])
        .await;
    assert_eq!(r.status().as_u16(), 403);

    // The admin's page has the form; ticking Camden (and an id that is no location) saves
    // Camden alone.
    let page = s
        .app
        .get_text_with(&s.admin, &format!("/admin/users/{practitioner_id}"))
        .await;
    assert!(page.contains("<legend>Works at</legend>"), "{page}");
    assert!(page.contains(&format!(
        "name=\"location_{}\" value=\"on\" checked",
        s.london
    )));
    let r = s
        .app
        .post_form_with(
            &s.admin,
            &path,
            &[(camden.as_str(), "on"), ("location_9999", "on")],
        )
        .await;
    assert_redirect_to(&r, &format!("/admin/users/{practitioner_id}"));
    let assigned = with_conn(&s.app, move |conn| {
        store::users::locations_of(conn, practitioner_id).unwrap()
    })
    .await;
    assert_eq!(assigned, vec![s.camden]);
    let users = s.app.get_text_with(&s.admin, "/admin/users").await;
    assert!(users.contains("<th scope=\"col\">Works at</th>") && users.contains("<td>Camden</td>"));

    // Now the practitioner's Needs attention is Camden's.
    let mine = s.app.get_text_with(&practitioner, "/attention").await;
    assert!(mine.contains("Ben Okafor") && !mine.contains("Maya Patel"));
}

crate::on_both_databases!(
    needs_attention_defaults_to_the_users_locations_with_a_filter,
    the_outbox_defaults_to_the_users_locations,
    only_admins_assign_users_to_locations,
);
