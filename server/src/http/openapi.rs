//! `GET /openapi.json`: the OpenAPI 3.1 document of every REST route, built by utoipa from the
//! handlers' own annotations and response types (so it cannot drift from what they send), plus
//! what the guard adds: the token forms, and 401/403/429 on the routes it checks.

use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    Content, Header, OpenApi as Document, Ref, RefOr, Response, SecurityRequirement,
};

/// The document's fixed parts; the paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tickd HTTP bridge",
        description = "Market data as JSON, in the dialects existing clients speak: the original \
service's routes, TradingView UDF (`/udf`) and Binance (`/api/v3`). Prices and sizes are exact \
decimals (fixed point 1e-9 underneath); times are as each dialect has them (RFC 3339 and ms in \
the seed routes, Unix seconds in UDF, ms in Binance). WebSockets (`/ws`, `/ws/{stream}`, \
`/stream`) are described in the README, not here: OpenAPI does not model them.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(schemas(super::ErrorBody, super::IntervalName, super::udf::Resolution)),
    tags(
        (name = "seed", description = "The original service's routes"),
        (name = "udf", description = "TradingView UDF datafeed"),
        (name = "binance", description = "Binance-compatible REST"),
        (name = "operations", description = "Health, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// The bridge's document: `paths` (from the routers) under [`ApiDoc`], with what this server's
/// guard does: the token forms and 401/403 when it has tokens (`auth`), 429 when it limits
/// request rates (`rate_limited`).
pub fn document(paths: Document, auth: bool, rate_limited: bool) -> Document {
    let mut doc = ApiDoc::openapi().merge_from(paths);
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            if rate_limited {
                add_rate_limit(op);
            }
        }
    }
    if !auth {
        return doc;
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        "bearer".into(),
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    for (name, scheme) in [
        (
            "api_key_header",
            ApiKey::Header(ApiKeyValue::new("X-API-Key")),
        ),
        ("token_query", ApiKey::Query(ApiKeyValue::new("token"))),
        ("api_key_query", ApiKey::Query(ApiKeyValue::new("api_key"))),
    ] {
        components
            .security_schemes
            .insert(name.into(), SecurityScheme::ApiKey(scheme));
    }
    for (path, item) in &mut doc.paths.paths {
        if let Some((_, role)) = super::guard::role_for(path) {
            for op in operations(item) {
                add_token(op, role);
            }
        }
    }
    doc
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

fn error(what: &str) -> Response {
    Response::builder()
        .description(what)
        .content(
            "application/json",
            Content::new(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody")))),
        )
        .build()
}

/// 429 with `Retry-After` (whole seconds).
fn add_rate_limit(op: &mut Operation) {
    let retry = Header::new(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1)),
    );
    let mut limited = error("Over the per-IP or per-token rate limit (`--http-rate`)");
    limited.headers.insert("Retry-After".into(), retry);
    op.responses
        .responses
        .insert("429".into(), RefOr::T(limited));
}

/// The token forms, 401 and 403 (the token lacks `role`).
fn add_token(op: &mut Operation, role: &str) {
    op.responses.responses.insert(
        "401".into(),
        RefOr::T(error(
            "A token is needed (when the server has tokens) and none or a bad one was sent",
        )),
    );
    op.responses.responses.insert(
        "403".into(),
        RefOr::T(error(&format!("The token lacks the {role} role"))),
    );
    let schemes = ["bearer", "api_key_header", "token_query", "api_key_query"];
    op.security = Some(
        schemes
            .iter()
            .map(|s| SecurityRequirement::new(*s, Vec::<String>::new()))
            .collect(),
    );
}
