//! Read views for partners, operators and members (queries and their results), and the CSV
//! renderings partners export.
//!
//! Invariants:
//! - a partner's view holds only what happened at that one business: its clients' visits and
//!   spend *there*, its own purchases — never another business's rows or amounts (for a clinic
//!   this is medical secrecy, compliance §2.3);
//! - pages are keyset pages: [`Page::next`] is `Some` exactly when more items follow, so the last
//!   page never points at an empty one;
//! - CSV follows RFC 4180 (CRLF line ends, a header row, a field quoted when it holds `,`, `"`,
//!   CR or LF, quotes doubled); amounts are integer kopecks, instants RFC 3339 in UTC; and no cell
//!   begins with a character a spreadsheet reads as a formula (`=`, `+`, `-`, `@`, tab, CR): such
//!   a cell gets a leading apostrophe.

use std::fmt::Write as _;

use time::{OffsetDateTime, UtcOffset};

use crate::types::{Bonus, Bps, BusinessId, Category, Kopecks, MemberId, PurchaseId, TenantId, TierCode};

/// An item of a keyset-paginated listing: it names the cursor that continues the listing after it.
pub trait PageItem {
    /// What a caller passes back to get the items after this one.
    type Cursor: Copy + std::fmt::Debug + PartialEq + Eq;
    /// The cursor pointing just past this item.
    fn cursor(&self) -> Self::Cursor;
}

/// One page of a listing, in the listing's order.
///
/// Pass `next` back (as the query's `after`/`before`) for the following page; it is `None`
/// exactly when nothing follows. Keyset cursors stay valid while rows are added: a page never
/// repeats or skips an item that existed when the first page was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T: PageItem> {
    /// The items, at most the query's limit.
    pub items: Vec<T>,
    /// The cursor of the last item when more follow; `None` on the last page.
    pub next: Option<T::Cursor>,
}

impl<T: PageItem> Page<T> {
    /// A page from up to `limit + 1` rows: the extra row only says that more follow.
    pub(crate) fn from_rows(mut items: Vec<T>, limit: u32) -> Page<T> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more { items.last().map(PageItem::cursor) } else { None };
        Page { items, next }
    }
}

/// Which of a business's clients to list: ordered by member id, `limit` (1–200) at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientQuery {
    /// Start after this member (the previous page's `next`); `None` for the first page.
    pub after: Option<MemberId>,
    /// Page size, 1–200.
    pub limit: u32,
}

impl ClientQuery {
    /// The first page of `limit` clients.
    pub fn first(limit: u32) -> Self {
        ClientQuery { after: None, limit }
    }
}

/// A member as one business sees her: only what happened at that business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessClient {
    /// The member.
    pub member: MemberId,
    /// Her phone, masked (`+7 912 ***-**-89`): enough to recognise her at the counter, not to
    /// call her.
    pub phone_masked: String,
    /// Her coalition tier as last evaluated (the higher of the earned and the invited tier).
    pub tier: Option<TierCode>,
    /// Her latest purchase at this business.
    pub last_visit: OffsetDateTime,
    /// Her purchases at this business (a refunded purchase still was a visit).
    pub visits: u64,
    /// What she spent at this business, net of refunds. Spend elsewhere is never included.
    pub spend_here: Kopecks,
}

impl PageItem for BusinessClient {
    type Cursor = MemberId;
    fn cursor(&self) -> MemberId {
        self.member
    }
}

/// Which of a business's purchases to list: newest first (by purchase time), `limit` (1–200) at
/// a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseQuery {
    /// Only purchases made at or after this instant.
    pub from: Option<OffsetDateTime>,
    /// Only purchases made before this instant (exclusive).
    pub to: Option<OffsetDateTime>,
    /// Only this member's purchases.
    pub member: Option<MemberId>,
    /// Continue after this purchase (the previous page's `next`); `None` for the first page.
    pub before: Option<PurchaseId>,
    /// Page size, 1–200.
    pub limit: u32,
}

impl PurchaseQuery {
    /// The newest `limit` purchases, unfiltered.
    pub fn latest(limit: u32) -> Self {
        PurchaseQuery { from: None, to: None, member: None, before: None, limit }
    }
}

/// A recorded purchase as its business (or its member) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseRecord {
    /// The purchase.
    pub purchase: PurchaseId,
    /// Who bought.
    pub member: MemberId,
    /// Where (in a business's listing, always that business).
    pub business: BusinessId,
    /// The partner's receipt id.
    pub receipt_id: String,
    /// The category it counted under.
    pub category: Category,
    /// The purchase total.
    pub amount: Kopecks,
    /// Paid with bonuses.
    pub redeemed: Bonus,
    /// Paid with money: `amount − redeemed`.
    pub paid: Kopecks,
    /// Cashback the purchase accrued (refunds reverse it in proportion; see `refunded`).
    pub cashback: Bonus,
    /// Refunded so far.
    pub refunded: Kopecks,
    /// When the purchase happened.
    pub at: OffsetDateTime,
}

impl PageItem for PurchaseRecord {
    type Cursor = PurchaseId;
    fn cursor(&self) -> PurchaseId {
        self.purchase
    }
}

/// A partner as the member app's catalogue shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// The business.
    pub business: BusinessId,
    /// Its display name.
    pub name: String,
    /// Its category.
    pub category: Category,
    /// A clinic: its purchase details fall under medical secrecy.
    pub medical: bool,
}

/// One rung of the tenant's tier ladder, as the app explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierInfo {
    /// The tier's code.
    pub code: TierCode,
    /// Its display name.
    pub name: String,
    /// Spend in the status window needed (inclusive; not used by invitation-only tiers).
    pub min_spend: Kopecks,
    /// Distinct categories in the window needed (inclusive; not used by invitation-only tiers).
    pub min_categories: u32,
    /// The cashback rate of the tier.
    pub cashback: Bps,
    /// Reached only by invitation.
    pub invitation_only: bool,
}

/// A tenant as the superadmin's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSummary {
    /// The tenant.
    pub id: TenantId,
    /// Its display name.
    pub name: String,
    /// Whether it is suspended (every command on it refused).
    pub suspended: bool,
    /// Its active businesses.
    pub businesses: usize,
    /// Its registered members.
    pub members: u64,
}

/// The clients as CSV: `member,phone,tier,last_visit,visits,spend_here_kopecks` (see the module
/// docs for quoting and the formula guard).
pub fn clients_csv(clients: &[BusinessClient]) -> String {
    let mut out = String::new();
    row(&mut out, &["member", "phone", "tier", "last_visit", "visits", "spend_here_kopecks"]);
    for c in clients {
        row(
            &mut out,
            &[
                &c.member.to_string(),
                &c.phone_masked,
                c.tier.as_ref().map_or("", TierCode::as_str),
                &rfc3339_utc(c.last_visit),
                &c.visits.to_string(),
                &c.spend_here.get().to_string(),
            ],
        );
    }
    out
}

/// The purchases as CSV: `purchase,member,business,receipt_id,category,amount_kopecks,
/// redeemed_kopecks,paid_kopecks,cashback_kopecks,refunded_kopecks,at` (see the module docs for
/// quoting and the formula guard).
pub fn purchases_csv(purchases: &[PurchaseRecord]) -> String {
    let mut out = String::new();
    row(
        &mut out,
        &[
            "purchase",
            "member",
            "business",
            "receipt_id",
            "category",
            "amount_kopecks",
            "redeemed_kopecks",
            "paid_kopecks",
            "cashback_kopecks",
            "refunded_kopecks",
            "at",
        ],
    );
    for p in purchases {
        row(
            &mut out,
            &[
                &p.purchase.to_string(),
                &p.member.to_string(),
                p.business.as_str(),
                &p.receipt_id,
                p.category.as_str(),
                &p.amount.get().to_string(),
                &p.redeemed.get().to_string(),
                &p.paid.get().to_string(),
                &p.cashback.get().to_string(),
                &p.refunded.get().to_string(),
                &rfc3339_utc(p.at),
            ],
        );
    }
    out
}

/// Appends one CSV record and its CRLF.
pub(super) fn row(out: &mut String, cells: &[&str]) {
    for (i, value) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        cell(out, value);
    }
    out.push_str("\r\n");
}

/// Appends one field: formula-guarded, then quoted if RFC 4180 requires it.
fn cell(out: &mut String, value: &str) {
    // A spreadsheet evaluates a cell starting with these as a formula (CSV injection); the
    // apostrophe makes it text. Our own numbers never start with one (amounts are ≥ 0).
    let guard = matches!(value.chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r'));
    let quote = value.contains([',', '"', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if guard {
        out.push('\'');
    }
    if quote {
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// RFC 3339 in UTC with a `Z`, microseconds shown only when present
/// (`2026-03-02T09:00:00Z`, `2026-03-02T09:00:00.250000Z`). Infallible, unlike a formatter.
pub(super) fn rfc3339_utc(at: OffsetDateTime) -> String {
    let u = at.checked_to_offset(UtcOffset::UTC).unwrap_or(at);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        u.year(),
        u8::from(u.month()),
        u.day(),
        u.hour(),
        u.minute(),
        u.second()
    );
    let micros = u.microsecond();
    if micros != 0 {
        let _ = write!(s, ".{micros:06}");
    }
    s.push('Z');
    s
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn render(value: &str) -> String {
        let mut out = String::new();
        cell(&mut out, value);
        out
    }

    #[test]
    fn cells_are_quoted_only_when_rfc_4180_requires_it() {
        assert_eq!(render("plain"), "plain");
        assert_eq!(render(""), "");
        assert_eq!(render("a,b"), "\"a,b\"");
        assert_eq!(render("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(render("two\nlines"), "\"two\nlines\"");
        assert_eq!(render("cr\rhere"), "\"cr\rhere\"");
    }

    #[test]
    fn formula_triggers_get_an_apostrophe_inside_any_quotes() {
        assert_eq!(render("=1+2"), "'=1+2");
        assert_eq!(render("+7 912 ***-**-89"), "'+7 912 ***-**-89");
        assert_eq!(render("-5"), "'-5");
        assert_eq!(render("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(render("\tx"), "'\tx");
        assert_eq!(render("=HYPERLINK(\"http://x\",\"y\")"), "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
        assert_eq!(render("a=b"), "a=b");
    }

    #[test]
    fn instants_are_rfc_3339_utc() {
        assert_eq!(rfc3339_utc(datetime!(2026-03-02 12:00 +03:00)), "2026-03-02T09:00:00Z");
        assert_eq!(rfc3339_utc(datetime!(2026-03-02 09:00:00.25 UTC)), "2026-03-02T09:00:00.250000Z");
        assert_eq!(rfc3339_utc(datetime!(0999-01-01 00:00 UTC)), "0999-01-01T00:00:00Z");
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct N(u32);
    impl PageItem for N {
        type Cursor = u32;
        fn cursor(&self) -> u32 {
            self.0
        }
    }

    #[test]
    fn a_page_points_on_only_when_more_rows_follow() {
        assert_eq!(Page::from_rows(vec![N(1), N(2), N(3)], 2), Page { items: vec![N(1), N(2)], next: Some(2) });
        assert_eq!(Page::from_rows(vec![N(1), N(2)], 2), Page { items: vec![N(1), N(2)], next: None });
        assert_eq!(Page::from_rows(Vec::<N>::new(), 2), Page { items: vec![], next: None });
    }
}
