//! IAM's XML for users, roles, access keys and tags.

use super::{iso8601, AccessKeyRecord, Role, Tag, User};
use crate::query::{percent_encode, xml_escape};

pub(super) fn tags_xml(tags: &[Tag]) -> String {
    if tags.is_empty() {
        return String::new();
    }
    let items: String = tags
        .iter()
        .map(|t| {
            format!(
                "<member><Key>{}</Key><Value>{}</Value></member>",
                xml_escape(&t.key),
                xml_escape(&t.value)
            )
        })
        .collect();
    format!("<Tags>{items}</Tags>")
}

pub(super) fn user_xml(user: &User, with_tags: bool) -> String {
    format!(
        "<Path>{}</Path><UserName>{}</UserName><UserId>{}</UserId><Arn>{}</Arn><CreateDate>{}</CreateDate>{}",
        xml_escape(&user.path),
        xml_escape(&user.name),
        user.user_id,
        xml_escape(&user.arn),
        iso8601(user.create_date),
        if with_tags { tags_xml(&user.tags) } else { String::new() }
    )
}

pub(super) fn role_xml(role: &Role, with_tags: bool) -> String {
    let description = role
        .description
        .as_deref()
        .map(|d| format!("<Description>{}</Description>", xml_escape(d)))
        .unwrap_or_default();
    format!(
        "<Path>{}</Path><RoleName>{}</RoleName><RoleId>{}</RoleId><Arn>{}</Arn><CreateDate>{}</CreateDate><AssumeRolePolicyDocument>{}</AssumeRolePolicyDocument>{description}<MaxSessionDuration>{}</MaxSessionDuration>{}",
        xml_escape(&role.path),
        xml_escape(&role.name),
        role.role_id,
        xml_escape(&role.arn),
        iso8601(role.create_date),
        percent_encode(&role.assume_role_policy_document),
        role.max_session_duration,
        if with_tags { tags_xml(&role.tags) } else { String::new() }
    )
}

pub(super) fn access_key_metadata_xml(key: &AccessKeyRecord) -> String {
    format!(
        "<member><UserName>{}</UserName><AccessKeyId>{}</AccessKeyId><Status>{}</Status><CreateDate>{}</CreateDate></member>",
        xml_escape(&key.user_name),
        key.access_key_id,
        key.status,
        iso8601(key.create_date)
    )
}
