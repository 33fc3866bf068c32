//! Finding patients: substring search by name or email, on the indexes that
//! make it fast (SQLite: the `patients_fts` trigram table kept by triggers;
//! PostgreSQL: `pg_trgm` GIN indexes). Basic matching (non-ASCII case, `@`,
//! a literal `%`) is in `treatments::patients_are_found_by_name_or_email`.

use aftercare::usecases::store::{self, patients::PatientFields, schema::patients, DbConn};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use reqwest::Client;

use crate::helpers::{with_conn, TestApp};

/// The patient ids the search page lists for `q` on `page`, in order, and
/// whether it offers a next page.
async fn search_page(app: &TestApp, client: &Client, q: &str, page: i64) -> (Vec<i64>, bool) {
    let r = client
        .get(app.url("/patients"))
        .query(&[("q", q), ("page", &page.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "search for {q:?}");
    let html = r.text().await.unwrap();
    let ids = html
        .split("<td><a href=\"/patients/")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect();
    (ids, html.contains("rel=\"next\""))
}

async fn found(app: &TestApp, client: &Client, q: &str) -> Vec<i64> {
    search_page(app, client, q, 1).await.0
}

/// SQLite: the trigram index holds exactly the patients' current name and
/// email (FTS5 compares it with the content table); a trigger that indexed
/// the wrong values, or missed a change, fails this.
async fn assert_search_index_is_consistent(app: &TestApp) {
    with_conn(app, |conn| {
        if let DbConn::Sqlite(c) = conn {
            diesel::sql_query(
                "INSERT INTO patients_fts(patients_fts, rank) VALUES ('integrity-check', 1)",
            )
            .execute(c)
            .expect("patients_fts matches the patients table");
        }
    })
    .await;
}

async fn search_matches_the_middle_of_a_name_or_email_in_any_case(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let maya = app
        .add_patient(&staff, "Maya Patel", "maya.patel@clinic-mail.example")
        .await;
    let liam = app
        .add_patient(&staff, "Liam Ortega", "l.ortega@example.com")
        .await;
    let zoe = app
        .add_patient(&staff, "Zoë Ångström", "zoe@example.org")
        .await;

    assert_eq!(found(&app, &staff, "YA PAT").await, [maya]);
    assert_eq!(found(&app, &staff, "iam ortEG").await, [liam]);
    // Only in the email.
    assert_eq!(found(&app, &staff, "CLINIC-MA").await, [maya]);
    assert_eq!(found(&app, &staff, "ÅNGSTR").await, [zoe]);
    // By name, whichever column matched.
    assert_eq!(found(&app, &staff, "example").await, [liam, maya, zoe]);
    assert!(found(&app, &staff, "zzz").await.is_empty());
    assert!(found(&app, &staff, "patel@x").await.is_empty());

    // The index that makes this fast is in place.
    let (indexes, expected) = with_conn(&app, |conn| {
        let (count, expected) = match conn {
            DbConn::Sqlite(c) => diesel::select(sql::<BigInt>(
                "(SELECT count(*) FROM sqlite_master WHERE name = 'patients_fts')",
            ))
            .get_result::<i64>(c)
            .map(|n| (n, 1)),
            DbConn::Pg(c) => diesel::select(sql::<BigInt>(
                "(SELECT count(*) FROM pg_indexes WHERE tablename = 'patients' \
                 AND indexdef LIKE '%gin_trgm_ops%')",
            ))
            .get_result::<i64>(c)
            .map(|n| (n, 2)),
        }
        .unwrap();
        (count, expected)
    })
    .await;
    assert_eq!(indexes, expected);
    assert_search_index_is_consistent(&app).await;
}

async fn quotes_wildcards_and_search_syntax_in_a_query_are_taken_literally(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let obrien = app
        .add_patient(&staff, "Siobhán O'Brien", "siobhan@example.com")
        .await;
    let rock = app
        .add_patient(&staff, "Dwayne \"The Rock\" Johnson", "dj@example.com")
        .await;
    let ann = app
        .add_patient(&staff, "Ann_Marie 50% Smith", "ann@example.com")
        .await;
    let annx = app
        .add_patient(&staff, "Annxmarie 500 Smith", "annx@example.com")
        .await;

    assert_eq!(found(&app, &staff, "o'bri").await, [obrien]);
    assert_eq!(found(&app, &staff, "\"The Rock\"").await, [rock]);
    assert_eq!(found(&app, &staff, "ne \"th").await, [rock]);
    assert_eq!(found(&app, &staff, "\"").await, [rock]);
    assert_eq!(found(&app, &staff, "n_m").await, [ann]);
    assert_eq!(found(&app, &staff, "50% s").await, [ann]);
    assert_eq!(found(&app, &staff, "_").await, [ann]);
    assert_eq!(found(&app, &staff, "smith").await, [ann, annx]);
    // FTS5 query syntax and SQL are text to look for, like any other.
    for q in [
        "\"\"",
        "\"\"\"",
        "smith OR dj",
        "ann*",
        "NEAR(ann smith)",
        "^ann",
        "name_search:ann",
        "-ann",
        "'; DROP TABLE patients; --",
        "(((",
        "a\\b",
    ] {
        assert!(found(&app, &staff, q).await.is_empty(), "{q:?}");
    }
    // A NUL never gets this far: see `http::malformed_requests_get_400_not_500`.
    assert_eq!(found(&app, &staff, "example.com").await.len(), 4);
}

async fn one_and_two_character_queries_still_match(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let maya = app
        .add_patient(&staff, "Maya Patel", "maya@example.com")
        .await;
    let bo = app.add_patient(&staff, "Bo Chen", "bo@example.org").await;
    let zoe = app
        .add_patient(&staff, "Zoë Adams", "zoe@example.net")
        .await;

    assert_eq!(found(&app, &staff, "YA").await, [maya]);
    assert_eq!(found(&app, &staff, "rg").await, [bo]);
    assert_eq!(found(&app, &staff, "b").await, [bo]);
    // Two characters, three bytes.
    assert_eq!(found(&app, &staff, "OË").await, [zoe]);
    assert!(found(&app, &staff, "q").await.is_empty());
    // An empty query lists everyone, by name.
    assert_eq!(found(&app, &staff, "").await, [bo, maya, zoe]);
}

async fn an_edited_patient_is_found_by_the_new_name_and_email_only(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let priya = app
        .add_patient(&staff, "Priya Shah", "priya.shah@example.com")
        .await;
    let other = app
        .add_patient(&staff, "Tom Kapoorson", "tom@example.org")
        .await;
    assert_eq!(found(&app, &staff, "shah").await, [priya]);

    let r = app
        .post_form_with(
            &staff,
            &format!("/patients/{priya}/edit"),
            &[
                ("name", "Priya Kapoor"),
                ("email", "p.kapoor@example.net"),
                ("email_consent", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);

    assert!(found(&app, &staff, "shah").await.is_empty());
    assert!(found(&app, &staff, "example.com").await.is_empty());
    assert_eq!(found(&app, &staff, "kapoor").await, [priya, other]);
    assert_eq!(found(&app, &staff, "riya kap").await, [priya]);
    assert_eq!(found(&app, &staff, "example.net").await, [priya]);
    assert_search_index_is_consistent(&app).await;

    // Unsubscribing changes neither name nor email: still found.
    let now = app.now();
    with_conn(&app, move |conn| {
        store::patients::set_unsubscribed(conn, priya, Some(now)).unwrap()
    })
    .await;
    assert_eq!(found(&app, &staff, "riya kap").await, [priya]);
    assert_search_index_is_consistent(&app).await;
}

/// The app never deletes patients; the index must still follow a row
/// removed by hand.
async fn a_patient_deleted_from_the_database_is_no_longer_found(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let gone = app
        .add_patient(&staff, "Gone Person", "gone@example.com")
        .await;
    let kept = app
        .add_patient(&staff, "Kept Person", "kept@example.com")
        .await;
    assert_eq!(found(&app, &staff, "person").await, [gone, kept]);

    let deleted = with_conn(&app, move |conn| {
        diesel::delete(patients::table.find(gone))
            .execute(conn)
            .unwrap()
    })
    .await;
    assert_eq!(deleted, 1);

    assert_eq!(found(&app, &staff, "person").await, [kept]);
    assert!(found(&app, &staff, "gone").await.is_empty());
    assert_search_index_is_consistent(&app).await;
}

/// Paging, for a rare term (SQLite: through the trigram index) and for a
/// term so common that SQLite scans by name instead (over 5,000 matches).
async fn search_results_are_paged_in_name_order(app: TestApp) {
    let staff = app.signed_in("staff").await;
    // 5,003 matches, inserted out of name order, two with the same name; one non-match.
    let mut names: Vec<String> = (0..5002)
        .rev()
        .map(|i| format!("Page Test {i:04}"))
        .collect();
    names.insert(10, "Page Test 0007".into());
    names.push("Other One".into());
    let now = app.now();
    let ids = with_conn(&app, move |conn| {
        store::write_tx(conn, |conn| {
            names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let fields = PatientFields {
                        name: name.clone(),
                        name_search: name.to_lowercase(),
                        email: Some(format!("p{i}@example.com")),
                        phone: None,
                        phone_search: String::new(),
                        date_of_birth: None,
                        email_consent: false,
                        consent_by: None,
                        consent_at: None,
                        updated_at: now,
                    };
                    store::patients::insert(conn, &fields, now).map(|id| (name.to_lowercase(), id))
                })
                .collect::<Result<Vec<_>, store::DbError>>()
        })
        .unwrap()
    })
    .await;
    let in_name_order = |prefix: &str| {
        let mut rows: Vec<&(String, i64)> = ids
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .collect();
        rows.sort();
        rows.into_iter().map(|(_, id)| *id).collect::<Vec<i64>>()
    };

    // Rare: "page test 00xx", 101 patients.
    let expected = in_name_order("page test 00");
    assert_eq!(expected.len(), 101);
    let (first, more) = search_page(&app, &staff, "GE TEST 00", 1).await;
    assert_eq!((first.as_slice(), more), (&expected[..50], true));
    let (second, more) = search_page(&app, &staff, "GE TEST 00", 2).await;
    assert_eq!((second.as_slice(), more), (&expected[50..100], true));
    let (third, more) = search_page(&app, &staff, "GE TEST 00", 3).await;
    assert_eq!((third.as_slice(), more), (&expected[100..], false));
    assert!(search_page(&app, &staff, "GE TEST 00", 4)
        .await
        .0
        .is_empty());

    // Common: every "page test" patient.
    let expected = in_name_order("page test");
    assert_eq!(expected.len(), 5003);
    let (first, more) = search_page(&app, &staff, "GE TE", 1).await;
    assert_eq!((first.as_slice(), more), (&expected[..50], true));
    let (last, more) = search_page(&app, &staff, "GE TE", 101).await;
    assert_eq!((last.as_slice(), more), (&expected[5000..], false));
    let window = with_conn(&app, |conn| {
        store::patients::search(conn, "page test", 10, 5)
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect::<Vec<_>>()
    })
    .await;
    assert_eq!(window, expected[10..15]);
}

/// The front desk types a number the way the patient says it: with or without the country
/// code, the trunk 0, spaces, dashes or brackets, it finds the patient; an edited number is found
/// by the new one only, and an erased patient by none.
async fn a_phone_number_finds_its_patient_however_it_is_written(app: TestApp) {
    let staff = app.signed_in("staff").await;
    let add = |name: &'static str, phone: &'static str| {
        let (app, staff) = (&app, &staff);
        async move {
            let r = app
                .post_form_with(staff, "/patients/new", &[("name", name), ("phone", phone)])
                .await;
            assert_eq!(r.status().as_u16(), 303, "{name} added");
            crate::helpers::id_in_location(&r)
        }
    };
    let maya = add("Maya Patel", "+44 7700 900123").await;
    let liam = add("Liam Ortega", "(310) 555-0100").await;
    add("Zoe Ang", "07700 900124").await;

    for written in [
        "07700 900123",
        "+44 (0)7700 900123",
        "7700-900-123",
        "447700900123",
    ] {
        assert_eq!(found(&app, &staff, written).await, [maya], "{written:?}");
    }
    for written in ["310 555 0100", "+1 310-555-0100", "13105550100"] {
        assert_eq!(found(&app, &staff, written).await, [liam], "{written:?}");
    }
    // Too short to be a number: searched as text, which no name or email holds.
    assert!(found(&app, &staff, "900123").await.is_empty());

    let r = app
        .post_form_with(
            &staff,
            &format!("/patients/{maya}/edit"),
            &[("name", "Maya Patel"), ("phone", "07700 900999")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303, "phone changed");
    assert!(found(&app, &staff, "07700 900123").await.is_empty());
    assert_eq!(found(&app, &staff, "+447700900999").await, [maya]);
}

crate::on_both_databases!(
    a_phone_number_finds_its_patient_however_it_is_written,
    search_matches_the_middle_of_a_name_or_email_in_any_case,
    quotes_wildcards_and_search_syntax_in_a_query_are_taken_literally,
    one_and_two_character_queries_still_match,
    an_edited_patient_is_found_by_the_new_name_and_email_only,
    a_patient_deleted_from_the_database_is_no_longer_found,
    search_results_are_paged_in_name_order,
);
