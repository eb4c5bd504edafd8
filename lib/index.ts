/**
 * The curated public API of muco-ts. Notebooks and the CLI import the compiled form of this file (dist/).
 *
 * The names a notebook uses most are exported at the top level; every module is also available as a
 * namespace (`muco.dialogue.renderDialogue`, `muco.metrics.hitAtK`, ...).
 */

// Runtime: backend, logging, randomness, configs.
export { initBackend, backendReport, describeBackend, seededTensor, tensorsLeftBy, assertNoLeak } from './backend';
export type { BackendName, BackendRequest, BackendOptions, BackendReport, InitKind } from './backend';
export { log, setLogLevel, logLevel } from './log';
export type { LogLevel } from './log';
export { Rng, deriveSeed } from './random';
export { resolveConfig, parseAssignments } from './config';
export type { Overrides } from './config';

// Text side: tokenizer, dialogue templates, batching, packing.
export { Tokenizer, SPECIAL_IDS, PAD_ID } from './tokenizer';
export { TEMPLATE_BASE, TEMPLATE_PRETRAIN, TEMPLATE_TRAIN, renderDialogue, renderMessages, tokenTable } from './dialogue';
export type { Message, ContentPart, MaskKind, RenderedSequence, ChatTemplate, DialogueInput } from './dialogue';
export { collate, attentionMask, attentionMaskData } from './batch';
export type { Batch, CollateOptions } from './batch';
export { packSingleTurn, packMultiTurn, packReconstruction, maskCounterpart, sampleSinglePair } from './packing';
export type { ImageRecord, QueryTargetPair, PackedBatch, SinglePair } from './packing';

// Model.
export { Embedder } from './model/embedder';
export type { EmbedInput, Embeddings, EmbeddingIndex } from './model/embedder';
export { modelConfig, MODEL_PRESETS, parameterCount, memoryEstimate, imageTokens } from './model/config';
export type { ModelConfig, ModelPreset } from './model/config';
export { saveCheckpoint, loadCheckpoint, loadEncoder } from './model/checkpoint';
export { patchify, patchTensor } from './model/vision';

// Training.
export { infoNCE, mucoPretrainLoss, mucoFinetuneLoss, sameGroupMask, LearnableTemperature, MASKED_LOGIT } from './loss';
export type { LossOutput, FinetunePair } from './loss';
export { train, trainConfig, DEFAULT_TRAIN, stepIndices, packStep, NonFiniteLossError } from './train';
export type { TrainConfig, TrainData, TrainRecord, StepRecord, TrainHooks, TrainOptions, TrainSummary } from './train';
export { learningRate } from './schedule';
export { AdamW } from './optim';

// Experiments: configs, the catalogue, running, comparing.
export { resolveRun, mergeOverrides } from './runner/config';
export type { RunConfig, RunOverrides, DataConfig, EvalConfig, Benchmark } from './runner/config';
export { EXPERIMENTS, experimentRuns, stockRun, tweakSuffix, runWithoutSeed, seedOfRunName } from './runner/catalog';
export type { ExperimentDef } from './runner/catalog';
export { SCALES } from './runner/scales';
export type { ScalePreset } from './runner/scales';
export { runExperiment, evaluateRun, trainingData, runTokenizer } from './runner/run';
export { chanceRow, comparisonRows, lossCurves, scoreBars, markdownTable, readLog, finishedRuns } from './runner/compare';
export type { RunRow } from './runner/compare';

// The paper's tables as data, and analytic FLOPs.
export { loadPaperTable, listPaperTables } from './analysis/paper';
export type { PaperTable, PaperRow } from './analysis/paper';
export { stepFlops, stepShapeFromPacked, paperStepShape, paperTable5Estimate, dimsOf, QWEN2_VL_2B } from './analysis/flops';
export type { FlopsCount } from './analysis/flops';
export * as paper from './analysis/paper';
export * as flops from './analysis/flops';

// Images and data.
export { decodeImage, writePng } from './image';
export { buildData } from './data/build';
export { readTrainingRecords, readMiniM3t } from './data/m3t';
export { ImageCache } from './data/cache';
export { writeM3tSubset } from './data/subset';

// Evaluation and results.
export { randomEncoder, EmbeddingCache } from './eval/encoder';
export type { Encoder, EncodeItem } from './eval/encoder';
export { topK } from './rank';

// Notebook data helpers: locating/building data, inspecting sequences, image galleries.
export { locateData, hasBuiltData, readTurnRecords, turnRows, readDataCard, toImageRecord, LOCATE_DATA_DEFAULTS } from './notebook/data';
export type { LocateDataOptions, DataLocation, TurnRow, DataCard } from './notebook/data';
export { sequenceParts, partsRows, tokenizerFor, sequenceHtml, maskMatrix, maskFigure, partStarts } from './notebook/inspect';
export type { SequenceParts } from './notebook/inspect';
export { pngDataUrl, galleryHtml, attributionLines } from './notebook/gallery';
export type { GalleryCard } from './notebook/gallery';
export * as inspect from './notebook/inspect';
export * as gallery from './notebook/gallery';
export * as notebookData from './notebook/data';

// Notebook support for experiments: runs, paper-vs-ours tables, efficiency, coherence, Fig. 3.
export * as notebookRuns from './notebook/runs';
export * as paperCompare from './analysis/paper-compare';
export * as efficiency from './analysis/efficiency';
export * as coherence from './analysis/coherence';
export * as coherenceProbe from './analysis/coherence-probe';
export * as logitMaskFigure from './analysis/logit-mask-figure';
export { setupNotebook, ensureExperiment, loadRunModel } from './notebook/runs';
export { alignment, uniformity, modalityGap, turnAgreement, coherenceSummary } from './analysis/coherence';

// Diagnostics: does a model see its images (pairwise cosine, linear probes on pixels / vision tokens / embeddings).
export { diagnoseEmbedder, DIAGNOSE_DEFAULTS } from './diagnostics/diagnose';
export type { DiagnoseOptions } from './diagnostics/diagnose';

// The base model (generative pretraining) and where runs start from.
export { generate, DEFAULT_GENERATE } from './pretrain/generate';
export type { GenerateInput, GenerateOptions } from './pretrain/generate';
export { probeQuestions, majorityAnswers, styleNamed, generativeAccuracy } from './pretrain/evaluate';
export type { ProbeQuestion, ProbeRecord } from './pretrain/evaluate';
export { runBase, resolveBaseRun, evaluateBase, splitRecords } from './pretrain/run';
export type { BaseRunConfig, BaseRunOverrides, BaseRunOptions } from './pretrain/run';
export { pretrain, pretrainConfig, DEFAULT_PRETRAIN } from './pretrain/train';
export type { PretrainConfig } from './pretrain/train';
export { resolveInit, baseModelDir } from './runner/init';
export * as notebookDiagnostics from './notebook/diagnostics';
export {
  diagnoseModels,
  diagnosticRows,
  diagnosticFindings,
  probeAnswers,
  baseCurves,
  readBaseLog,
  baseModelFolder,
  baseRunDir,
  instructionReadings,
} from './notebook/diagnostics';
export type { DiagnosedModel, SkippedModel, DiagnoseModelsOptions, AnswerOptions, BaseLogLine, InstructionReadingOptions } from './notebook/diagnostics';
export { meanPairwiseCosine } from './diagnostics/cosine';
export { neighbourLabelShares, m3tAnswerPool, readInstructions, formatShares } from './diagnostics/instruction-reading';
export type { LabelledText, LabelShare } from './diagnostics/instruction-reading';
export { linearProbe, fitLinearProbe, predictLinearProbe, majorityClass, LINEAR_PROBE_DEFAULTS } from './diagnostics/linear-probe';
export type { LinearProbeOptions, LinearProbeModel, ProbeSet, ProbeResult, ProbeForm } from './diagnostics/linear-probe';
export { probeLabels, dominantColour, emojiGroup, PROBE_TASKS } from './diagnostics/labels';
export type { ProbeTask, LabelledRecord } from './diagnostics/labels';
export { solveSpd } from './diagnostics/cholesky';

// Figures and notebook helpers.
export { plotlyLibraryHtml, figureHtml, writeFigureHtml, heatmap, lines, bars } from './plot';
export type { Figure, FigureHtmlOptions, WriteFigureOptions } from './plot';
export { show, showTable, showNotes, notesHtml, tableHtml, loadPlotly, isSmoke } from './notebook/display';
export { CLAIMS, paperEffect, type Claim } from './analysis/claims';
export { claimVerdict, claimVerdicts, verdictFigure, verdictRows, verdictsMarkdown, writeVerdicts, type ClaimResult } from './analysis/verdicts';
export { controlSentences, rankingSentence, verdictSentences } from './analysis/prose';
export { meanSd, pairedBootstrap, verdictOf, type Outcomes } from './stats';
export { readOutcomes, type RunOutcomes } from './eval/outcomes';

// Every module as a namespace.
export * as backend from './backend';
export * as tokenizer from './tokenizer';
export * as dialogue from './dialogue';
export * as batch from './batch';
export * as packing from './packing';
export * as model from './model/embedder';
export * as modelConfigs from './model/config';
export * as checkpoint from './model/checkpoint';
export * as loss from './loss';
export * as trainer from './train';
export * as trainState from './train-state';
export * as image from './image';
export * as m3t from './data/m3t';
export * as dataBuild from './data/build';
export * as metrics from './metrics';
export * as rank from './rank';
export * as evaluate from './eval/encoder';
export * as results from './results';
export * as mmeb from './eval/mmeb';
export * as mmebAggregate from './eval/mmeb-aggregate';
export * as mbeir from './eval/mbeir';
export * as mbeirAggregate from './eval/mbeir-aggregate';
export * as mmebData from './eval/mmeb-format';
export * as mbeirData from './eval/mbeir-format';
export * as plot from './plot';

// The runtime itself, so notebooks use the same tfjs instance as the library.
export * as tf from '@tensorflow/tfjs';
