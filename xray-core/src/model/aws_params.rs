//! The per-operation parameters of an AWS call (`aws.table_name`, `aws.bucket_name`,
//! `aws.retries`, …): kept as already-written JSON members so adding one costs no new field
//! on every entity, and an entity without them writes nothing.

use crate::json::writer as w;

use super::record::EntityMut;

/// A per-operation parameter of the `aws` object, as the official SDKs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AwsParam {
    /// S3 bucket.
    BucketName,
    /// S3 object key.
    Key,
    /// S3 `x-amz-id-2` response header.
    Id2,
    /// SNS topic ARN.
    TopicArn,
    /// Lambda function name.
    FunctionName,
    /// Lambda invocation type.
    InvocationType,
    /// Lambda qualifier.
    Qualifier,
    /// KMS key id.
    KeyId,
    /// DynamoDB index name.
    IndexName,
    /// SQS queue name.
    QueueName,
    /// SQS message id.
    MessageId,
}

impl AwsParam {
    /// The snake_case key written in the `aws` object.
    pub fn as_str(self) -> &'static str {
        match self {
            AwsParam::BucketName => "bucket_name",
            AwsParam::Key => "key",
            AwsParam::Id2 => "id_2",
            AwsParam::TopicArn => "topic_arn",
            AwsParam::FunctionName => "function_name",
            AwsParam::InvocationType => "invocation_type",
            AwsParam::Qualifier => "qualifier",
            AwsParam::KeyId => "key_id",
            AwsParam::IndexName => "index_name",
            AwsParam::QueueName => "queue_name",
            AwsParam::MessageId => "message_id",
        }
    }
}

/// Written members, comma-separated, without braces.
#[derive(Debug, Default)]
pub(crate) struct AwsParams {
    json: Vec<u8>,
}

impl AwsParams {
    pub(crate) fn is_empty(&self) -> bool {
        self.json.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.json.clear();
    }

    /// Appends the members to an object being written; `first` as the other writers use it.
    pub(crate) fn write(&self, out: &mut Vec<u8>, first: &mut bool) {
        if self.json.is_empty() {
            return;
        }
        if !*first {
            out.push(b',');
        }
        *first = false;
        out.extend_from_slice(&self.json);
    }

    fn member(&mut self, key: &'static str) -> &mut Vec<u8> {
        if !self.json.is_empty() {
            self.json.push(b',');
        }
        w::key(&mut self.json, key);
        &mut self.json
    }
}

impl EntityMut<'_> {
    fn params(&mut self) -> &mut AwsParams {
        let node = &mut self.tree.nodes.as_mut_slice()[self.index];
        node.extended = true;
        &mut node.extras_mut().aws.params
    }

    /// Sets a string parameter of the `aws` object (at most 250 characters kept). Setting the
    /// same parameter twice writes it twice: each is meant to be set once per call.
    pub fn aws_param(&mut self, param: AwsParam, value: &str) -> &mut Self {
        let cut = crate::annotation::cut_chars(value, super::record::MAX_STRING_CHARS);
        if cut.len() != value.len() {
            self.tree.counts.strings_truncated += 1;
        }
        w::string(self.params().member(param.as_str()), cut);
        self
    }

    /// Sets `aws.retries`: attempts beyond the first.
    pub fn aws_retries(&mut self, retries: u32) -> &mut Self {
        w::u64(self.params().member("retries"), u64::from(retries));
        self
    }
}
