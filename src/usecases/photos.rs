//! Check-in photos: what an upload must be before we spend anything on it,
//! and cleaning it (decoded, then encoded again as JPEG so that only the
//! pixels survive: EXIF and its location are gone).
//!
//! The check-in form needs only a patient's link, so a photo is untrusted
//! input from anyone holding one. A file of a few hundred bytes can declare
//! 12,000 × 12,000 pixels and cost a gigabyte and seconds to decode. So the
//! size its header declares is read first (microseconds, nothing decoded)
//! and refused past [`MAX_PIXELS`], or when the file is far too small to hold
//! that many pixels; only then is it decoded, on the blocking pool, a few at
//! a time ([`Gate::for_photos`]), with no database connection held.

use image::ImageFormat;

use crate::error::AppResult;
use crate::usecases::gate::Gate;

/// A photo as uploaded.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// The most pixels a photo may declare: a 40-megapixel camera's full frame.
pub const MAX_PIXELS: u64 = 40_000_000;
/// Past this many pixels, a file must hold at least one byte for every
/// [`MAX_PIXELS_PER_BYTE`] of them. A real photo of skin needs far more (a
/// phone's 12-megapixel JPEG is a few MB, about 3 pixels a byte); only a
/// forged header or a picture of nothing gets near.
const DENSITY_CHECK_FROM: u64 = 2_000_000;
const MAX_PIXELS_PER_BYTE: u64 = 1024;
/// What decoding may allocate (a 40-megapixel RGBA picture is 160 MB).
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

const NOT_A_PHOTO: &str = "This file is not a photo we can read. Use a JPEG, PNG or WebP picture.";
const TOO_MANY_PIXELS: &str = "This photo has too many pixels (more than 40 megapixels). Choose a smaller one, or send it at a lower resolution.";
const DAMAGED: &str = "This photo seems damaged or incomplete: the file is far too small for the size it says it is. Take the photo again, or send your answer without one.";

/// What the header says, checked: the format and the size, with nothing decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declared {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

/// Reads and checks the header only. The message is for beside the field.
pub fn check_header(bytes: &[u8]) -> Result<Declared, &'static str> {
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err("The photo is larger than 10 MB. Choose a smaller one.");
    }
    let format = image::guess_format(bytes).map_err(|_| NOT_A_PHOTO)?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP
    ) {
        return Err(NOT_A_PHOTO);
    }
    let (width, height) = image::ImageReader::with_format(std::io::Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|_| NOT_A_PHOTO)?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 {
        return Err(NOT_A_PHOTO);
    }
    if pixels > MAX_PIXELS {
        return Err(TOO_MANY_PIXELS);
    }
    if pixels > DENSITY_CHECK_FROM && pixels > bytes.len() as u64 * MAX_PIXELS_PER_BYTE {
        return Err(DAMAGED);
    }
    Ok(Declared {
        format,
        width,
        height,
    })
}

/// Checks the header, then decodes and encodes again as JPEG. Blocking and
/// heavy: call [`clean_gated`] from a request.
pub fn clean(bytes: &[u8]) -> Result<Vec<u8>, &'static str> {
    let declared = check_header(bytes)?;
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), declared.format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(declared.width);
    limits.max_image_height = Some(declared.height);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let picture = reader.decode().map_err(|_| NOT_A_PHOTO)?;
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&picture.to_rgb8())
        .map_err(|_| NOT_A_PHOTO)?;
    Ok(out)
}

/// [`clean`] for a request: the header is checked at once, and a photo that
/// passes is decoded on the blocking pool under `gate` (busy → 503).
pub async fn clean_gated(gate: &Gate, bytes: Vec<u8>) -> AppResult<Result<Vec<u8>, &'static str>> {
    if let Err(message) = check_header(&bytes) {
        return Ok(Err(message));
    }
    gate.run(move || clean(&bytes)).await
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A small real JPEG (`w` × `h`, a gradient).
    pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let picture = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 90]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
            .encode_image(&picture)
            .unwrap();
        out
    }

    /// The same file, its frame header (SOF0) patched to declare `w` × `h`.
    pub fn declaring(mut jpeg: Vec<u8>, w: u16, h: u16) -> Vec<u8> {
        let sof = jpeg
            .windows(2)
            .position(|m| m == [0xFF, 0xC0])
            .expect("a baseline JPEG has SOF0");
        // FF C0, length (2), precision (1), height (2), width (2).
        jpeg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
        jpeg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
        jpeg
    }

    #[test]
    fn a_real_photo_passes_and_comes_out_as_a_jpeg() {
        let file = jpeg(64, 48);
        let declared = check_header(&file).unwrap();
        assert_eq!((declared.width, declared.height), (64, 48));
        let cleaned = clean(&file).unwrap();
        assert_eq!(image::guess_format(&cleaned).unwrap(), ImageFormat::Jpeg);
    }

    #[test]
    fn a_header_declaring_too_many_pixels_is_refused_before_decoding() {
        let forged = declaring(jpeg(64, 48), 12_000, 12_000);
        assert_eq!(check_header(&forged), Err(TOO_MANY_PIXELS));
        // `clean` refuses with the header's message, not a decoder's:
        // nothing was decoded.
        assert_eq!(clean(&forged), Err(TOO_MANY_PIXELS));
    }

    #[test]
    fn a_header_the_file_cannot_fill_is_refused() {
        // 6,000 × 6,000 is 36 MP, under the limit, in a file of under 1 KB.
        let forged = declaring(jpeg(64, 48), 6_000, 6_000);
        assert!(forged.len() < 2_000);
        assert_eq!(check_header(&forged), Err(DAMAGED));
    }

    #[test]
    fn what_is_not_a_photo_is_refused() {
        assert_eq!(check_header(b"GIF89a not today"), Err(NOT_A_PHOTO));
        assert_eq!(check_header(b"%PDF-1.7"), Err(NOT_A_PHOTO));
        assert!(check_header(&vec![0; MAX_PHOTO_BYTES + 1]).is_err());
    }
}
