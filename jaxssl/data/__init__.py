"""Host-side input pipeline: sources, augmentation ops, view recipes, batches.

This is the only jaxssl package that uses TensorFlow (tf.data, TFDS), and
this `__init__` imports nothing: `jaxssl.data.embedded` must stay importable
without TensorFlow, and so must `jaxssl.data.arrays` (NumPy only). Import
the module you need:

  from jaxssl.data import pipeline   # train_batches, eval_batches, dataset_info
  from jaxssl.data import ops        # stateless tf.image ops, [0, 1] floats
  from jaxssl.data import views      # multi-view recipes from config.data.views
  from jaxssl.data import sources    # embedded_digits, image_folder, arrays,
                                     # fashion_mnist, TFDS names
  from jaxssl.data import arrays     # IDX / .npz / .npy readers (NumPy only)
  from jaxssl.data import figures    # plot_views: a grid of augmented views
"""
