"""The single face pipeline shared by training and serving: decode, detect, crop, normalise.

Depends only on numpy, OpenCV and Pillow, so serving never pulls in torch.
"""

from face_pipeline.detect import Box, detect_faces, iou
from face_pipeline.image_io import (
    ImageError,
    ImageTooLarge,
    InvalidImage,
    UnsupportedImage,
    decode_image,
    read_image_file,
)
from face_pipeline.params import (
    EMOTIONS,
    FAST_DETECTOR,
    PAPER_DETECTOR,
    DetectorParams,
    PreprocessParams,
)
from face_pipeline.preprocess import crop_face, face_crops, face_tensors, framed_face, grow_box, normalize

__all__ = [
    "EMOTIONS",
    "FAST_DETECTOR",
    "PAPER_DETECTOR",
    "Box",
    "DetectorParams",
    "ImageError",
    "ImageTooLarge",
    "InvalidImage",
    "PreprocessParams",
    "UnsupportedImage",
    "crop_face",
    "decode_image",
    "detect_faces",
    "face_crops",
    "face_tensors",
    "framed_face",
    "grow_box",
    "iou",
    "normalize",
    "read_image_file",
]
