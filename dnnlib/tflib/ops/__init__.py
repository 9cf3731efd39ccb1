"""Pure-TensorFlow replacements for StyleGAN2's custom CUDA ops, under the authors' names."""
