//! Cloud profiles: what each cloud refuses, checked on the device. A cloud that meets a QoS 2
//! publish, a retained message or an over-long topic closes the connection without a word, and
//! the device falls into a reconnect loop nobody can explain; here the call fails at once
//! instead. The limits and their sources are in docs/CLOUDS.md.

/// The clouds with a profile. The numbers are the C constants `MQE_CLOUD_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cloud {
    /// No profile: plain MQTT 3.1.1.
    None = 0,
    AwsIot = 1,
    AzureIotHub = 2,
    Aliyun = 3,
    Tencent = 4,
    OneNet = 5,
    ThingsBoard = 6,
}

impl Cloud {
    pub fn from_u8(value: u8) -> Option<Cloud> {
        Some(match value {
            0 => Cloud::None,
            1 => Cloud::AwsIot,
            2 => Cloud::AzureIotHub,
            3 => Cloud::Aliyun,
            4 => Cloud::Tencent,
            5 => Cloud::OneNet,
            6 => Cloud::ThingsBoard,
            _ => return None,
        })
    }

    pub fn limits(self) -> &'static Limits {
        match self {
            Cloud::None => &NONE,
            Cloud::AwsIot => &AWS_IOT,
            Cloud::AzureIotHub => &AZURE_IOT_HUB,
            Cloud::Aliyun => &ALIYUN,
            Cloud::Tencent => &TENCENT,
            Cloud::OneNet => &ONENET,
            Cloud::ThingsBoard => &THINGSBOARD,
        }
    }
}

/// What one cloud accepts. `u16::MAX` / `u32::MAX` / `u8::MAX` mean no limit of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_qos: u8,
    pub retain: bool,
    pub will: bool,
    /// Keep-alive range in seconds; 0 (no keep-alive) must lie in it to be accepted.
    pub keep_alive_min_s: u16,
    pub keep_alive_max_s: u16,
    /// Bytes of a topic name or filter.
    pub topic_bytes: u16,
    /// `/` in a topic name or filter.
    pub topic_slashes: u8,
    pub client_id_bytes: u16,
    pub payload_bytes: u32,
    pub filters_per_subscribe: u8,
    /// AWS Basic Ingest: the `$aws/rules/{rule}/` prefix does not count towards the slashes.
    pub rules_prefix_exempt: bool,
}

const NONE: Limits = Limits {
    max_qos: 2,
    retain: true,
    will: true,
    keep_alive_min_s: 0,
    keep_alive_max_s: u16::MAX,
    topic_bytes: u16::MAX,
    topic_slashes: u8::MAX,
    client_id_bytes: u16::MAX,
    payload_bytes: u32::MAX,
    filters_per_subscribe: u8::MAX,
    rules_prefix_exempt: false,
};

const AWS_IOT: Limits = Limits {
    max_qos: 1,
    keep_alive_max_s: 1200,
    topic_bytes: 256,
    topic_slashes: 7,
    client_id_bytes: 128,
    payload_bytes: 128 * 1024,
    filters_per_subscribe: 8,
    rules_prefix_exempt: true,
    ..NONE
};

const AZURE_IOT_HUB: Limits = Limits {
    max_qos: 1,
    retain: false,
    // IoT Hub's own keep-alive ceiling (29.45 min); above it the hub drops the device.
    keep_alive_max_s: 1767,
    client_id_bytes: 128,
    payload_bytes: 256 * 1024,
    ..NONE
};

const ALIYUN: Limits = Limits {
    max_qos: 1,
    retain: false,
    will: false,
    keep_alive_min_s: 30,
    keep_alive_max_s: 1200,
    payload_bytes: 256 * 1024,
    ..NONE
};

const TENCENT: Limits = Limits {
    max_qos: 1,
    retain: false,
    will: false,
    keep_alive_max_s: 900,
    ..NONE
};

const ONENET: Limits = Limits { max_qos: 1, ..NONE };

const THINGSBOARD: Limits = Limits { max_qos: 1, ..NONE };

/// Why a profile refuses something: the C status is `MQE_ERR_UNSUPPORTED` for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsupported;

impl Limits {
    pub fn check_topic(&self, topic: &str) -> Result<(), Unsupported> {
        if topic.len() > usize::from(self.topic_bytes) {
            return Err(Unsupported);
        }
        // No slash limit (every profile but AWS): no count, as this runs on every publish.
        if self.topic_slashes == u8::MAX {
            return Ok(());
        }
        let counted = match topic.strip_prefix("$aws/rules/") {
            // The rule name and its slash go with the prefix.
            Some(rest) if self.rules_prefix_exempt => rest.split_once('/').map_or("", |(_, t)| t),
            _ => topic,
        };
        let slashes = counted.bytes().filter(|&b| b == b'/').count();
        if slashes > usize::from(self.topic_slashes) {
            return Err(Unsupported);
        }
        Ok(())
    }

    pub fn check_publish(
        &self,
        topic: &str,
        payload_len: usize,
        qos: u8,
        retain: bool,
    ) -> Result<(), Unsupported> {
        if qos > self.max_qos || (retain && !self.retain) {
            return Err(Unsupported);
        }
        if payload_len > self.payload_bytes as usize {
            return Err(Unsupported);
        }
        self.check_topic(topic)
    }

    /// One filter of a SUBSCRIBE; `count` is how many the packet carries.
    pub fn check_subscribe(&self, filter: &str, qos: u8, count: usize) -> Result<(), Unsupported> {
        if qos > self.max_qos || count > usize::from(self.filters_per_subscribe) {
            return Err(Unsupported);
        }
        self.check_topic(filter)
    }

    /// The CONNECT options: keep-alive, client id, and the will (`None`: no will).
    pub fn check_connect(
        &self,
        keep_alive_s: u16,
        client_id: &str,
        will: Option<(&str, usize, u8, bool)>,
    ) -> Result<(), Unsupported> {
        if !(self.keep_alive_min_s..=self.keep_alive_max_s).contains(&keep_alive_s)
            || client_id.len() > usize::from(self.client_id_bytes)
        {
            return Err(Unsupported);
        }
        match will {
            None => Ok(()),
            Some(_) if !self.will => Err(Unsupported),
            Some((topic, len, qos, retain)) => self.check_publish(topic, len, qos, retain),
        }
    }

    /// `keep_alive_s` moved into the accepted range (0 goes to the maximum, as a cloud treats
    /// a missing keep-alive as its longest).
    pub fn clamp_keep_alive(&self, keep_alive_s: u16) -> u16 {
        if keep_alive_s == 0 && self.keep_alive_min_s > 0 {
            return self.keep_alive_max_s;
        }
        // Not `clamp`: it asserts min <= max, a panic path (true of every profile anyway).
        keep_alive_s
            .max(self.keep_alive_min_s)
            .min(self.keep_alive_max_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    /// `u8::MAX` slashes means no limit (the fast path skips the count): a topic with more
    /// slashes than a u8 holds passes every profile without a slash limit.
    #[test]
    fn slash_limit_only_where_set() {
        let deep: String = "a/".repeat(300) + "a";
        for cloud in [
            Cloud::AzureIotHub,
            Cloud::Aliyun,
            Cloud::Tencent,
            Cloud::OneNet,
        ] {
            assert_eq!(cloud.limits().check_topic(&deep), Ok(()), "{cloud:?}");
        }
        let aws = Cloud::AwsIot.limits();
        assert_eq!(aws.check_topic("a/b/c/d/e/f/g/h"), Ok(()));
        assert_eq!(aws.check_topic("a/b/c/d/e/f/g/h/i"), Err(Unsupported));
        // Basic Ingest: the rule prefix and the rule name's slash do not count.
        assert_eq!(aws.check_topic("$aws/rules/r/a/b/c/d/e/f/g/h"), Ok(()));
        assert_eq!(
            aws.check_topic("$aws/rules/r/a/b/c/d/e/f/g/h/i"),
            Err(Unsupported)
        );
        // The byte limit holds with or without a slash limit.
        assert_eq!(aws.check_topic(&"a".repeat(256)), Ok(()));
        assert_eq!(aws.check_topic(&"a".repeat(257)), Err(Unsupported));
    }
}
