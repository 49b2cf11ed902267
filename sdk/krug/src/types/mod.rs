//! Core domain types: money, rates, identifiers, time and phone numbers. Each one cannot be built
//! invalid, so code that holds one never re-checks it.

mod clock;
mod ids;
mod money;
mod phone;

pub use clock::{Clock, SystemClock};
pub use ids::{
    BusinessId, Category, EntryId, IdGen, LotId, MemberId, PurchaseId, RefundId, SlugError, TenantId, TierCode, UuidV7,
};
pub use ids::{ConsentId, OfferId, StaffId};
pub use ids::{EventId, ProposalId, RegistrationId};
pub use money::{AmountError, Bonus, Bps, BpsError, Kopecks, MAX_AMOUNT, Rounding};
pub use phone::{Phone, PhoneError};
