//! keks-aws: the AWS side of keks — SigV4 verification, the account and its credentials,
//! the AWS wire protocols and the service front ends (STS today; EKS next).

pub mod account;
pub mod eks;
pub mod eks_token;
pub mod front;
pub mod query;
pub mod sigv4;
pub mod sts;

pub use account::{Account, AccountError, Principal};
pub use front::{AwsFront, HttpRequest, Response};
pub mod rest_json;
