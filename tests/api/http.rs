//! Health, headers, static files, error pages, malformed requests.

use crate::helpers::*;

async fn healthz_answers_ok(app: TestApp) {
    let r = app.get("/healthz").await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
}

async fn security_headers_are_on_every_response(app: TestApp) {
    for path in [
        "/login",
        "/healthz",
        "/no/such/page",
        "/static/app.css",
        "/",
    ] {
        let r = app.get(path).await;
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
    // Cookies: HttpOnly and SameSite=Lax (not Secure on plain http).
    let r = app.get_with(&new_client(), "/login").await;
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("Secure")
    );
}

async fn unknown_pages_get_a_styled_404(app: TestApp) {
    let r = app.get("/no/such/page").await;
    assert_eq!(r.status().as_u16(), 404);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Page not found") && html.contains(&aftercare::web::assets::url("app.css"))
    );
    assert_eq!(app.get("/static/nope.css").await.status().as_u16(), 404);
    let admin = app.signed_in("admin").await;
    assert_eq!(
        app.get_with(&admin, "/admin/users/999999")
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        app.get_with(&admin, "/admin/users/not-a-number")
            .await
            .status()
            .as_u16(),
        404
    );
}

async fn malformed_requests_get_400_not_500(app: TestApp) {
    let admin = app.signed_in("admin").await;
    let r = app.get_with(&admin, "/admin/audit?page=lots").await;
    assert_eq!(r.status().as_u16(), 400);
    let r = app
        .get_with(&admin, "/admin/users/99999999999999999999999")
        .await;
    assert_eq!(r.status().as_u16(), 404);
    // A NUL reaches neither database (PostgreSQL would refuse it with a 500).
    for path in ["/patients?q=ab%00cd", "/outbox?status=sent%00"] {
        let r = app.get_with(&admin, path).await;
        assert_eq!(r.status().as_u16(), 400, "{path}");
        assert!(r.text().await.unwrap().contains("NUL character"), "{path}");
    }
    let r = app
        .post_form_with(
            &admin,
            "/patients/new",
            &[("name", "Ann\0Lee"), ("email", ""), ("phone", "")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("NUL character"));
    assert_eq!(
        crate::helpers::with_conn(&app, |c| aftercare::usecases::store::patients::search(
            c, "ann", 0, 10
        )
        .unwrap())
        .await
        .len(),
        0,
        "nothing is saved"
    );
}

async fn static_assets_are_served_from_the_binary(app: TestApp) {
    let r = app.get("/static/app.css").await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert!(r.text().await.unwrap().contains("@media print"));
}

crate::on_both_databases!(
    healthz_answers_ok,
    security_headers_are_on_every_response,
    unknown_pages_get_a_styled_404,
    malformed_requests_get_400_not_500,
    static_assets_are_served_from_the_binary,
);
