"""Evaluation metrics: PSNR/SSIM, landmark/expression/pose distances, ST-LPIPS and SFace identity."""
