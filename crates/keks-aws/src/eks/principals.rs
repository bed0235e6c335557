//! IAM as the EKS control plane sees it: which roles and principals exist.

use crate::iam::Iam;

impl keks_eks::Principals for Iam {
    fn role_exists(&self, arn: &str) -> bool {
        self.role_by_arn(arn).is_some()
    }

    fn principal_exists(&self, arn: &str) -> bool {
        arn == self.account().root.arn
            || self.role_by_arn(arn).is_some()
            || self.user_by_arn(arn).is_some()
    }
}
