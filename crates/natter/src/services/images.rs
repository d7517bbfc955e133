//! Avatar processing: recognise, bound, decode, crop, resize, re-encode.
//!
//! The format is taken from the file's magic bytes only. Dimensions are read from
//! the header before anything is decoded, and the decoder runs under allocation
//! limits, so a small file that claims 50,000 × 50,000 pixels is refused at once
//! with little memory. The stored picture is always freshly encoded WebP: the
//! uploaded bytes (and any EXIF/GPS metadata or polyglot payload) are never kept.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::error::{AppError, AppResult};

pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// 40 megapixels: any real photo, but not a decompression bomb.
pub const MAX_PIXELS: u64 = 40_000_000;
pub const MAX_SIDE: u32 = 16_384;
pub const LARGE_SIDE: u32 = 256;
pub const SMALL_SIDE: u32 = 64;
pub const CONTENT_TYPE: &str = "image/webp";

/// The two stored sizes of one picture, WebP-encoded.
pub struct Avatar {
    pub large: Vec<u8>,
    pub small: Vec<u8>,
}

/// Turns uploaded bytes into a square avatar in two sizes.
pub fn process(bytes: &[u8]) -> AppResult<Avatar> {
    let format = image::guess_format(bytes).ok();
    if !matches!(
        format,
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif)
    ) {
        return Err(AppError::UnsupportedMedia(
            "the picture must be a PNG, JPEG, WebP or GIF image".into(),
        ));
    }
    let format = format.expect("checked above");
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
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
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|_| invalid_image())?;
    let square = centre_square(decoded);
    Ok(Avatar {
        large: encode(&square, LARGE_SIDE)?,
        small: encode(&square, SMALL_SIDE)?,
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
    let resized = square
        .resize_exact(side, side, FilterType::Lanczos3)
        .into_rgba8();
    let mut out = Cursor::new(Vec::new());
    resized
        .write_to(&mut out, ImageFormat::WebP)
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(out.into_inner())
}
