//! Avatar and attachment-preview processing: recognise, bound, decode, crop,
//! resize, re-encode.
//!
//! The format is taken from the file's magic bytes only. Dimensions are read from
//! the header before anything is decoded, and the decoder runs under allocation
//! limits, so a small file that claims 50,000 × 50,000 pixels is refused at once
//! with little memory. The stored picture is always freshly encoded WebP: the
//! uploaded bytes (and any EXIF/GPS metadata or polyglot payload) are never kept.

use std::io::{BufRead, Cursor, Seek};
use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::error::{AppError, AppResult};

pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// 40 megapixels: any real photo, but not a decompression bomb.
pub const MAX_PIXELS: u64 = 40_000_000;
pub const MAX_SIDE: u32 = 16_384;
pub const LARGE_SIDE: u32 = 256;
pub const SMALL_SIDE: u32 = 64;
/// The longest side of an attachment's preview.
pub const THUMB_SIDE: u32 = 320;
pub const CONTENT_TYPE: &str = "image/webp";

/// A picture over [`MAX_UPLOAD_BYTES`].
pub fn too_large() -> AppError {
    AppError::too_large(
        "the picture must be at most 5 MiB",
        Some(MAX_UPLOAD_BYTES as u64),
    )
}

/// The two stored sizes of one picture, WebP-encoded.
pub struct Avatar {
    pub large: Vec<u8>,
    pub small: Vec<u8>,
}

/// Turns uploaded bytes into a square avatar in two sizes.
pub fn process(bytes: &[u8]) -> AppResult<Avatar> {
    let format = sniff(bytes).ok_or_else(|| {
        AppError::UnsupportedMedia("the picture must be a PNG, JPEG, WebP or GIF image".into())
    })?;
    let decoded = decode_bounded(|| Ok(Cursor::new(bytes)), format)?;
    let square = centre_square(decoded);
    Ok(Avatar {
        large: encode(&square, LARGE_SIDE)?,
        small: encode(&square, SMALL_SIDE)?,
    })
}

/// The image format the leading bytes announce, if it is one we decode.
pub fn sniff(head: &[u8]) -> Option<ImageFormat> {
    image::guess_format(head).ok().filter(|format| {
        matches!(
            format,
            ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif
        )
    })
}

/// The MIME type served for a sniffed format.
pub fn mime(format: ImageFormat) -> &'static str {
    format.to_mime_type()
}

/// Decodes under the bomb limits: the header's dimensions are checked before
/// any pixel is decoded (`open` is called twice, once for each look).
pub fn decode_bounded<R: BufRead + Seek>(
    open: impl Fn() -> std::io::Result<R>,
    format: ImageFormat,
) -> AppResult<DynamicImage> {
    let (width, height) = ImageReader::with_format(open().map_err(io_error)?, format)
        .into_dimensions()
        .map_err(|_| invalid_image())?;
    if width == 0
        || height == 0
        || width > MAX_SIDE
        || height > MAX_SIDE
        || u64::from(width) * u64::from(height) > MAX_PIXELS
    {
        return Err(AppError::invalid(
            "image_too_large",
            format!(
                "the picture is {width}×{height} pixels; at most {MAX_PIXELS} pixels are accepted"
            ),
        ));
    }
    let mut reader = ImageReader::with_format(open().map_err(io_error)?, format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    reader.decode().map_err(|_| invalid_image())
}

fn io_error(e: std::io::Error) -> AppError {
    AppError::Internal(e.into())
}

/// A picture's size and its WebP preview of at most [`THUMB_SIDE`] pixels a side.
pub struct Thumbnail {
    pub width: u32,
    pub height: u32,
    pub webp: Vec<u8>,
}

/// The preview of the image in the file at `path` (already sniffed as `format`).
pub fn thumbnail(path: &Path, format: ImageFormat) -> AppResult<Thumbnail> {
    let open = || std::fs::File::open(path).map(std::io::BufReader::new);
    let decoded = decode_bounded(open, format)?;
    let (width, height) = (decoded.width(), decoded.height());
    let small = if width <= THUMB_SIDE && height <= THUMB_SIDE {
        decoded
    } else {
        decoded.resize(THUMB_SIDE, THUMB_SIDE, FilterType::Triangle)
    };
    Ok(Thumbnail {
        width,
        height,
        webp: encode_webp(small)?,
    })
}

fn invalid_image() -> AppError {
    AppError::invalid("invalid_image", "the picture could not be decoded")
}

fn centre_square(image: DynamicImage) -> DynamicImage {
    let side = image.width().min(image.height());
    let x = (image.width() - side) / 2;
    let y = (image.height() - side) / 2;
    image.crop_imm(x, y, side, side)
}

fn encode(square: &DynamicImage, side: u32) -> AppResult<Vec<u8>> {
    encode_webp(square.resize_exact(side, side, FilterType::Lanczos3))
}

fn encode_webp(image: DynamicImage) -> AppResult<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    image
        .into_rgba8()
        .write_to(&mut out, ImageFormat::WebP)
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(out.into_inner())
}
