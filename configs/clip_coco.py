r"""CLIP on COCO Captions (TFDS): ResNet-50 and a 4-layer text Transformer.

Command (prepare the data first: `tfds build coco_captions --data_dir
DIR`, ~38 GB downloaded):
  python -m jaxssl.main --config configs/clip_coco.py \
      --config.data.data_dir=DIR --workdir /tmp/clip-coco
  (`:image_run=RUN` starts the image tower from a finished jaxssl ResNet-50
  run, e.g. configs/simclr_imagenet.py's workdir; `:lock` keeps it frozen,
  LiT; `:smoke` for a seconds-long run, which still needs the data.)

Data: TFDS `coco_captions` (Karpathy's splits of COCO 2014): trains on
train+restval (113,287 images), scores on test (5,000), ~5 captions per
image (`data.text_key` "captions/text"), one drawn per image and epoch;
no labels, so the protocol is retrieval only. 224 px (ImageNet mean /
std), random resized crop (0.5, 1) and flip; a 16,384-piece BPE trained
on the train captions, 32 tokens (COCO captions average ~11 words).

Recipe: CLIP's loss and optimizer (arXiv:2103.00020: symmetric InfoNCE,
learned logit scale from 1/0.07 clipped at 100; AdamW b2 0.98, eps 1e-6,
weight decay 0.2) sized for COCO: ResNet-50 image tower, bert_small text
tower (4 layers, d 512, 8 heads, pre-LN, last-token pooling), 512-d joint
space; batch 1024, lr 5e-4, 500 warm-up steps, cosine over 50 epochs
(5,500 steps); gradient clip 1.

Expected: retrieval on the 5k test images (eval/i2t_recall@k,
eval/t2i_recall@k). Published references on the same split: VSE++
(Faghri et al., arXiv:1707.05612; ImageNet-pretrained ResNet-152,
fine-tuned) R@1 41.3 image-to-text / 30.3 text-to-image, R@10 81.2 /
72.4; zero-shot CLIP ViT-L/14@336 (400M web pairs) 58.4 / 37.8 (Table
13); all three score the 5k images against all their ~25k captions.
From scratch on 113k pairs expect far less than VSE++ (ImageNet-trained);
`:image_run` with an ImageNet run is the fairer comparison. Not run here.
`jaxssl.bench --compile_only`: 45.8M parameters, 26.3 GFLOP per pair.
"""

from jaxssl import configs_lib


def get_config(arg=None):
  args = configs_lib.parse_arg(
    arg, smoke=False, epochs=50, image_run="", lock=False
  )
  config = configs_lib.base_config("clip")
  d = config.data
  d.name = "coco_captions"
  d.text_key = "captions/text"
  d.label_key = ""
  d.train_split = "train+restval"
  d.eval_split = "test"
  d.image_size = 224
  d.mean = (0.485, 0.456, 0.406)
  d.std = (0.229, 0.224, 0.225)
  d.crop_scale = (0.5, 1.0)
  d.crop_ratio = (3 / 4, 4 / 3)
  d.flip_prob = 0.5
  d.tokenizer = "bpe"
  d.vocab_size = 16384
  d.seq_len = 32
  config.model.name = "resnet50"
  m = config.method
  m.text_model = "bert_small"
  m.pre_ln = True
  m.text_pool = "last"
  m.max_positions = 32
  m.embed_dim = 512
  m.dropout = m.attention_dropout = 0.0
  m.freeze_image_tower = bool(args.lock)
  t = config.train
  steps_per_epoch = 113_287 // 1024
  t.batch_size = 1024
  t.total_steps = args.epochs * steps_per_epoch
  t.log_every_steps = 50
  t.ckpt_every_steps = 10 * steps_per_epoch
  t.eval_every_steps = 10 * steps_per_epoch
  if args.image_run:
    t.init_from = args.image_run
    t.init_from_map = (
      "params/image=params/backbone,"
      "extra/batch_stats=extra/batch_stats/backbone"
    )
  o = config.optim
  o.name = "adamw"
  o.lr = 5e-4
  o.lr_scaling = "none"
  o.b1, o.b2, o.eps = 0.9, 0.98, 1e-6
  o.weight_decay = 0.2
  o.warmup_steps = min(500, t.total_steps)
  o.clip_grad_norm = 1.0
  config.eval.protocols = ("zeroshot",)
  config.eval.batch_size = 1000
  if args.smoke:
    config.model.name = "tiny_resnet"
    m.text_model = "bert_tiny"
    d.vocab_size = 512
    configs_lib.make_smoke(config, image_size=64)
  return config
