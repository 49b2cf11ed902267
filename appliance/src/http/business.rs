//! A partner's own views (owner and manager): the clients who bought here and the purchases
//! made here, as JSON pages or CSV. A business sees only its own purchases and its clients'
//! spend *here* — never what they did at other partners (a clinic's visits least of all).

use poem::web::{Data, RemoteAddr};
use poem_openapi::param::Query;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};
use time::OffsetDateTime;
use uuid::Uuid;

use super::ApiTags;
use super::dto::{PurchasePage, parse_id};
use crate::auth::{BearerAuth, Role};
use crate::problem::ApiError;
use crate::state::AppState;

/// Business endpoints.
pub struct BusinessApi;

/// A client of the business.
#[derive(Debug, Clone, Object)]
pub struct Client {
    /// The member id.
    pub member_id: Uuid,
    /// Her phone, masked (`+7 912 ***-**-89`).
    pub phone_masked: String,
    /// Her tier.
    pub tier: Option<String>,
    /// Her last purchase here.
    pub last_visit: OffsetDateTime,
    /// Purchases here.
    pub visits: u64,
    /// Net spend here, kopecks.
    pub spend_here_kopecks: i64,
}

/// A page of clients.
#[derive(Debug, Clone, Object)]
pub struct ClientPage {
    /// The clients, by member id.
    pub items: Vec<Client>,
    /// Pass as `after` for the next page; absent at the end.
    pub next: Option<Uuid>,
}

/// A CSV export.
#[derive(ApiResponse)]
pub enum CsvExport {
    /// RFC 4180 CSV with a header row; amounts in kopecks, times RFC 3339 UTC.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(PlainText<String>),
}

fn business_staff(auth: &BearerAuth) -> Result<(&krug::types::TenantId, &krug::types::BusinessId), ApiError> {
    auth.0.require(&[Role::Owner, Role::Manager])?;
    Ok((auth.0.tenant()?, auth.0.business()?))
}

const EXPORT_LIMIT: u32 = 200;

impl BusinessApi {
    async fn client_page(
        state: &AppState,
        auth: &BearerAuth,
        remote: &RemoteAddr,
        after: Option<&str>,
        limit: u32,
    ) -> Result<krug::Page<krug::BusinessClient>, ApiError> {
        let (tenant, business) = business_staff(auth)?;
        let after = after.map(|a| parse_id::<krug::types::MemberId>("cursor", a)).transpose()?;
        let page = state.krug.business_clients(tenant, business, krug::ClientQuery { after, limit }).await?;
        // A staff read of members' personal data (masked phones, tiers) is audited.
        let detail = serde_json::json!({ "business": business.as_str(), "members": page.items.len() });
        super::audit(state, tenant, auth.0.actor(), "clients.read", format!("business:{business}"), detail, remote)
            .await?;
        Ok(page)
    }

    async fn purchase_page(
        state: &AppState,
        auth: &BearerAuth,
        q: PurchaseFilter,
    ) -> Result<krug::Page<krug::PurchaseRecord>, ApiError> {
        let (tenant, business) = business_staff(auth)?;
        let member = q.member.as_deref().map(|m| parse_id::<krug::types::MemberId>("member", m)).transpose()?;
        let before = q.before.as_deref().map(|b| parse_id::<krug::types::PurchaseId>("cursor", b)).transpose()?;
        let query = krug::PurchaseQuery { from: q.from, to: q.to, member, before, limit: q.limit };
        Ok(state.krug.business_purchases(tenant, business, query).await?)
    }
}

struct PurchaseFilter {
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    member: Option<String>,
    before: Option<String>,
    limit: u32,
}

#[OpenApi(prefix_path = "/v1/business", tag = "ApiTags::Business")]
impl BusinessApi {
    /// Clients who bought at your business: masked phone, tier, last visit, spend here.
    #[oai(path = "/clients", method = "get", operation_id = "business_clients")]
    async fn clients(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        /// The `next` of the previous page.
        after: Query<Option<String>>,
        /// Page size, 1–200 (default 50).
        limit: Query<Option<u32>>,
    ) -> Result<Json<ClientPage>, ApiError> {
        let page = Self::client_page(&state, &auth, remote, after.0.as_deref(), limit.0.unwrap_or(50)).await?;
        Ok(Json(ClientPage {
            items: page
                .items
                .iter()
                .map(|c| Client {
                    member_id: c.member.as_uuid(),
                    phone_masked: c.phone_masked.clone(),
                    tier: c.tier.as_ref().map(ToString::to_string),
                    last_visit: c.last_visit,
                    visits: c.visits,
                    spend_here_kopecks: c.spend_here.get(),
                })
                .collect(),
            next: page.next.map(|m| m.as_uuid()),
        }))
    }

    /// Your clients as CSV (one page of up to 200; page with `after`).
    #[oai(path = "/clients.csv", method = "get", operation_id = "business_clients_csv")]
    async fn clients_csv(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        /// Start after this member id.
        after: Query<Option<String>>,
    ) -> Result<CsvExport, ApiError> {
        let page = Self::client_page(&state, &auth, remote, after.0.as_deref(), EXPORT_LIMIT).await?;
        Ok(CsvExport::Csv(PlainText(krug::clients_csv(&page.items))))
    }

    /// Purchases made at your business, newest first, with filters.
    #[oai(path = "/purchases", method = "get", operation_id = "business_purchases")]
    #[allow(clippy::too_many_arguments)]
    async fn purchases(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// Only purchases at or after this instant.
        from: Query<Option<OffsetDateTime>>,
        /// Only purchases before this instant.
        to: Query<Option<OffsetDateTime>>,
        /// Only this member's purchases.
        member: Query<Option<String>>,
        /// The `next` of the previous page.
        before: Query<Option<String>>,
        /// Page size, 1–200 (default 50).
        limit: Query<Option<u32>>,
    ) -> Result<Json<PurchasePage>, ApiError> {
        let filter =
            PurchaseFilter { from: from.0, to: to.0, member: member.0, before: before.0, limit: limit.0.unwrap_or(50) };
        let page = Self::purchase_page(&state, &auth, filter).await?;
        Ok(Json(PurchasePage::from(&page)))
    }

    /// Purchases at your business as CSV (up to 200 per call; page with `before`).
    #[oai(path = "/purchases.csv", method = "get", operation_id = "business_purchases_csv")]
    async fn purchases_csv(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// Only purchases at or after this instant.
        from: Query<Option<OffsetDateTime>>,
        /// Only purchases before this instant.
        to: Query<Option<OffsetDateTime>>,
        /// Start before this purchase id.
        before: Query<Option<String>>,
    ) -> Result<CsvExport, ApiError> {
        let filter = PurchaseFilter { from: from.0, to: to.0, member: None, before: before.0, limit: EXPORT_LIMIT };
        let page = Self::purchase_page(&state, &auth, filter).await?;
        Ok(CsvExport::Csv(PlainText(krug::purchases_csv(&page.items))))
    }
}
