// The REST API's JSON (Flink's paths and field names; Weir's additions marked).

export type JobState =
  | 'CREATED' | 'RUNNING' | 'RESTARTING' | 'FAILING' | 'FAILED' | 'CANCELING' | 'CANCELED' | 'FINISHED'
  | 'INITIALIZING' | 'SUSPENDED' | 'RECONCILING';

export const TERMINAL_STATES = ['FAILED', 'CANCELED', 'FINISHED', 'SUSPENDED'];

export interface Config {
  'refresh-interval'?: number;
  'weir-version'?: string;
  'flink-version'?: string;
  features?: { 'web-submit'?: boolean; 'web-cancel'?: boolean; 'web-history'?: boolean };
  mode?: 'embedded' | 'cluster' | string;
}

export interface Overview {
  taskmanagers: number;
  'slots-total': number;
  'slots-available': number;
  'jobs-running': number;
  'jobs-finished': number;
  'jobs-cancelled': number;
  'jobs-failed': number;
  'weir-version'?: string;
}

export interface TaskManager {
  id: string;
  path?: string;
  dataPort?: number;
  timeSinceLastHeartbeat?: number;
  slotsNumber: number;
  freeSlots: number;
  hardware?: { cpuCores?: number; physicalMemory?: number; freeMemory?: number; managedMemory?: number };
}

export interface JobOverviewEntry {
  jid: string;
  name: string;
  state: JobState;
  'start-time': number;
  'end-time': number;
  duration: number;
  'last-modification'?: number;
  tasks?: Record<string, number>;
}

export interface Metrics {
  'read-bytes'?: number;
  'write-bytes'?: number;
  'read-records'?: number;
  'write-records'?: number;
  'accumulated-backpressured-time'?: number;
  'accumulated-idle-time'?: number;
  'accumulated-busy-time'?: number;
}

export interface Rates {
  'records-in-per-second'?: number;
  'records-out-per-second'?: number;
  'bytes-in-per-second'?: number;
  'bytes-out-per-second'?: number;
  'busy-ms-per-second'?: number;
  'idle-ms-per-second'?: number;
  'backpressured-ms-per-second'?: number;
}

export type BackpressureLevel = 'ok' | 'low' | 'high';

export interface Vertex {
  id: string;
  name: string;
  parallelism: number;
  maxParallelism?: number;
  status: string;
  tasks?: Record<string, number>;
  metrics?: Metrics;
  rates?: Rates;
  'backpressure-level'?: BackpressureLevel;
  watermark?: number | null;
}

export interface PlanInput {
  num: number;
  id: string;
  ship_strategy?: string;
  exchange?: string;
}

export interface PlanNode {
  id: string;
  parallelism: number;
  operator?: string;
  operator_strategy?: string;
  description?: string;
  inputs?: PlanInput[];
}

export interface JobDetails {
  jid: string;
  name: string;
  state: JobState;
  'start-time': number;
  'end-time': number;
  duration: number;
  now?: number;
  vertices: Vertex[];
  plan?: { nodes: PlanNode[] };
}

export interface Subtask {
  subtask: number;
  status: string;
  attempt?: number;
  host?: string;
  duration?: number;
  metrics?: Metrics;
  rates?: Rates;
  'backpressure-level'?: BackpressureLevel;
  'input-watermark'?: number | null;
  'output-watermark'?: number | null;
}

export interface VertexDetails {
  id: string;
  name: string;
  parallelism: number;
  subtasks: Subtask[];
}

export interface WatermarkInput {
  index: number;
  'upstream-id': string;
  'upstream-name': string;
  'upstream-subtask': number;
  watermark: number | null;
  idle: boolean;
  ended: boolean;
  holding: boolean;
}

export interface WatermarkSubtask {
  subtask: number;
  'input-watermark': number | null;
  'output-watermark': number | null;
  'lag-ms': number | null;
  'holding-input': number | null;
  inputs: WatermarkInput[];
}

export interface JobWatermarks {
  now: number;
  vertices: { id: string; name: string; subtasks: WatermarkSubtask[] }[];
}

export interface CheckpointEntry {
  id: number;
  status: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  is_savepoint: boolean;
  trigger_timestamp: number;
  latest_ack_timestamp?: number;
  state_size?: number;
  checkpointed_size?: number;
  end_to_end_duration?: number;
  alignment_duration?: number;
  num_subtasks?: number;
  num_acknowledged_subtasks?: number;
  external_path?: string | null;
  failure_message?: string | null;
}

export interface Checkpoints {
  counts: { restored: number; total: number; in_progress: number; completed: number; failed: number };
  summary?: Record<string, { min: number; max: number; avg: number }>;
  latest: {
    completed: CheckpointEntry | null;
    savepoint: CheckpointEntry | null;
    failed: CheckpointEntry | null;
    restored: { id: number; restore_timestamp: number; is_savepoint: boolean; external_path: string } | null;
  };
  history: CheckpointEntry[];
}

export interface Exceptions {
  'root-exception': string | null;
  timestamp: number | null;
  exceptionHistory?: {
    entries: { exceptionName: string; stacktrace: string; timestamp: number; taskName?: string; location?: string }[];
    truncated?: boolean;
  };
}

export interface JarList {
  address?: string;
  files: { id: string; name: string; uploaded: number }[];
}
