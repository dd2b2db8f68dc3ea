//! `tokio_util::codec` adapters (feature `tokio-codec`).

use bytes::BytesMut;

use crate::{DecodeError, Decoder, EncodeError, Packet, Request, Response};

/// Everything that can go wrong on a framed connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The socket failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent bytes that are not a packet.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A packet could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Frames [`Packet`]s; encodes packets, requests and responses.
#[derive(Clone, Copy, Debug, Default)]
pub struct GearmanCodec {
    decoder: Decoder,
}

impl GearmanCodec {
    /// A codec with the default size cap.
    pub fn new() -> Self {
        Self::default()
    }

    /// A codec around a configured decoder.
    pub fn with_decoder(decoder: Decoder) -> Self {
        Self { decoder }
    }
}

impl tokio_util::codec::Decoder for GearmanCodec {
    type Item = Packet;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, CodecError> {
        Ok(self.decoder.decode(src)?)
    }
}

impl tokio_util::codec::Encoder<Packet> for GearmanCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Packet, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(item.encode(dst)?)
    }
}

impl tokio_util::codec::Encoder<&Request> for GearmanCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Request, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(item.encode(dst)?)
    }
}

impl tokio_util::codec::Encoder<&Response> for GearmanCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Response, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(item.encode(dst)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::codec::{Decoder as _, Encoder as _};

    #[test]
    fn round_trip() {
        let mut codec = GearmanCodec::new();
        let mut buf = BytesMut::new();
        codec.encode(&Request::PreSleep, &mut buf).unwrap();
        let p = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(Request::try_from(p).unwrap(), Request::PreSleep);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
    }
}
