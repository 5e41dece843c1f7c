//! An independent, strict decoder of the packets a client may send (MQTT 3.1.1): everything
//! the engine puts on the wire must pass it. It shares no code with the library's `wire`.

/// A client-to-server packet; strings and ids only as far as the checks need them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientPacket {
    Connect {
        client_id: String,
        clean_session: bool,
        keep_alive_s: u16,
    },
    Publish {
        dup: bool,
        qos: u8,
        retain: bool,
        topic: String,
        packet_id: u16,
        payload: Vec<u8>,
    },
    Puback(u16),
    Pubrec(u16),
    Pubrel(u16),
    Pubcomp(u16),
    Subscribe {
        packet_id: u16,
        filters: Vec<(String, u8)>,
    },
    Unsubscribe {
        packet_id: u16,
        filters: Vec<String>,
    },
    Pingreq,
    Disconnect,
}

/// The front of a byte stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Not a whole packet yet.
    Incomplete,
    /// A valid packet of this many bytes.
    Packet(ClientPacket, usize),
}

/// Decodes the packet at the front of `buf`; `Err` says which rule it breaks.
pub fn decode(buf: &[u8]) -> Result<Decoded, String> {
    let Some(&first) = buf.first() else {
        return Ok(Decoded::Incomplete);
    };
    let (kind, flags) = (first >> 4, first & 0x0F);
    let mut remaining: usize = 0;
    let mut header_len = 0;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else {
            return Ok(Decoded::Incomplete);
        };
        remaining |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            if i > 0 && b == 0 {
                return Err("non-minimal remaining length".into());
            }
            header_len = 2 + i;
            break;
        }
    }
    if header_len == 0 {
        return Err("remaining length over 4 bytes".into());
    }
    let total = header_len + remaining;
    let Some(body) = buf.get(header_len..total) else {
        return Ok(Decoded::Incomplete);
    };
    let packet = decode_body(kind, flags, body)?;
    Ok(Decoded::Packet(packet, total))
}

fn decode_body(kind: u8, flags: u8, body: &[u8]) -> Result<ClientPacket, String> {
    let mut r = Reader { rest: body };
    let fixed_flags = |want: u8| -> Result<(), String> {
        if flags == want {
            Ok(())
        } else {
            Err(format!("type {kind}: flags {flags:#06b}, want {want:#06b}"))
        }
    };
    let packet = match kind {
        1 => {
            fixed_flags(0)?;
            decode_connect(&mut r)?
        }
        3 => {
            let dup = flags & 0b1000 != 0;
            let qos = (flags >> 1) & 0b11;
            let retain = flags & 1 != 0;
            if qos == 3 {
                return Err("PUBLISH with QoS 3".into());
            }
            if qos == 0 && dup {
                return Err("PUBLISH QoS 0 with DUP".into());
            }
            let topic = r.string()?;
            check_topic_name(&topic)?;
            let packet_id = if qos > 0 { r.packet_id()? } else { 0 };
            let payload = r.take(r.rest.len())?.to_vec();
            ClientPacket::Publish {
                dup,
                qos,
                retain,
                topic,
                packet_id,
                payload,
            }
        }
        4 | 5 | 7 => {
            fixed_flags(0)?;
            let id = r.packet_id()?;
            match kind {
                4 => ClientPacket::Puback(id),
                5 => ClientPacket::Pubrec(id),
                _ => ClientPacket::Pubcomp(id),
            }
        }
        6 => {
            fixed_flags(0b0010)?;
            ClientPacket::Pubrel(r.packet_id()?)
        }
        8 => {
            fixed_flags(0b0010)?;
            let packet_id = r.packet_id()?;
            let mut filters = Vec::new();
            while !r.rest.is_empty() {
                let filter = r.string()?;
                check_topic_filter(&filter)?;
                let qos = r.u8()?;
                if qos > 2 {
                    return Err(format!("SUBSCRIBE requested QoS byte {qos:#04x}"));
                }
                filters.push((filter, qos));
            }
            if filters.is_empty() {
                return Err("SUBSCRIBE without a filter".into());
            }
            ClientPacket::Subscribe { packet_id, filters }
        }
        10 => {
            fixed_flags(0b0010)?;
            let packet_id = r.packet_id()?;
            let mut filters = Vec::new();
            while !r.rest.is_empty() {
                let filter = r.string()?;
                check_topic_filter(&filter)?;
                filters.push(filter);
            }
            if filters.is_empty() {
                return Err("UNSUBSCRIBE without a filter".into());
            }
            ClientPacket::Unsubscribe { packet_id, filters }
        }
        12 => {
            fixed_flags(0)?;
            ClientPacket::Pingreq
        }
        14 => {
            fixed_flags(0)?;
            ClientPacket::Disconnect
        }
        other => return Err(format!("packet type {other} is never sent by a client")),
    };
    if !r.rest.is_empty() {
        return Err(format!("type {kind}: {} bytes past its end", r.rest.len()));
    }
    Ok(packet)
}

fn decode_connect(r: &mut Reader) -> Result<ClientPacket, String> {
    if r.string()? != "MQTT" {
        return Err("CONNECT protocol name".into());
    }
    if r.u8()? != 4 {
        return Err("CONNECT protocol level".into());
    }
    let flags = r.u8()?;
    if flags & 1 != 0 {
        return Err("CONNECT reserved flag".into());
    }
    let clean_session = flags & 0b10 != 0;
    let will = flags & 0b100 != 0;
    let will_qos = (flags >> 3) & 0b11;
    let will_retain = flags & 0b10_0000 != 0;
    let password = flags & 0b100_0000 != 0;
    let username = flags & 0b1000_0000 != 0;
    if !will && (will_qos != 0 || will_retain) {
        return Err("CONNECT will QoS/retain without a will".into());
    }
    if will_qos == 3 {
        return Err("CONNECT will QoS 3".into());
    }
    if password && !username {
        return Err("CONNECT password without username".into());
    }
    let keep_alive_s = r.u16()?;
    let client_id = r.string()?;
    if client_id.is_empty() && !clean_session {
        return Err("CONNECT empty client id without clean session".into());
    }
    if will {
        check_topic_name(&r.string()?)?;
        r.binary()?;
    }
    if username {
        r.string()?;
    }
    if password {
        r.binary()?;
    }
    Ok(ClientPacket::Connect {
        client_id,
        clean_session,
        keep_alive_s,
    })
}

/// §4.7: non-empty, no wildcards.
pub fn check_topic_name(t: &str) -> Result<(), String> {
    if t.is_empty() || t.contains(['+', '#']) {
        return Err(format!("bad topic name {t:?}"));
    }
    Ok(())
}

/// §4.7.1: '#' alone in the last level, '+' alone in its level.
pub fn check_topic_filter(f: &str) -> Result<(), String> {
    let levels: Vec<&str> = f.split('/').collect();
    let ok = !f.is_empty()
        && levels.iter().enumerate().all(|(i, level)| {
            (*level == "#" && i == levels.len() - 1) || *level == "+" || !level.contains(['+', '#'])
        });
    if ok {
        Ok(())
    } else {
        Err(format!("bad topic filter {f:?}"))
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err("field runs past the packet".into());
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn packet_id(&mut self) -> Result<u16, String> {
        match self.u16()? {
            0 => Err("packet id 0".into()),
            id => Ok(id),
        }
    }
    fn binary(&mut self) -> Result<&'a [u8], String> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
    /// §1.5.3: well-formed UTF-8 without U+0000.
    fn string(&mut self) -> Result<String, String> {
        let bytes = self.binary()?;
        let s = std::str::from_utf8(bytes).map_err(|_| "string is not UTF-8".to_string())?;
        if s.contains('\0') {
            return Err("string contains U+0000".into());
        }
        Ok(s.to_string())
    }
}
