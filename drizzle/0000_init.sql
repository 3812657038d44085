CREATE TABLE `anomalies` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`name_key` text NOT NULL,
	`metric` text NOT NULL,
	`panel_url` text NOT NULL,
	`datasource` text NOT NULL,
	`pattern` text,
	`status` text NOT NULL,
	`error_message` text DEFAULT '' NOT NULL,
	`generation` integer DEFAULT 1 NOT NULL,
	`model` text,
	`last_point_at` integer,
	`step_ms` integer,
	`next_segment_id` integer DEFAULT 0 NOT NULL,
	`alert_enabled` integer DEFAULT false NOT NULL,
	`alert_active` integer DEFAULT false NOT NULL,
	`detect_error` text DEFAULT '' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `anomalies_name_key_unique` ON `anomalies` (`name_key`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`kind` text NOT NULL,
	`anomaly_id` text NOT NULL,
	`generation` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`run_at` integer NOT NULL,
	`locked_until` integer,
	`last_error` text,
	PRIMARY KEY(`kind`, `anomaly_id`)
);
--> statement-breakpoint
CREATE INDEX `jobs_due` ON `jobs` (`run_at`);--> statement-breakpoint
CREATE TABLE `notifications` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`anomaly_id` text NOT NULL,
	`anomaly_name` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text,
	`created_at` integer DEFAULT (unixepoch() * 1000) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `segments` (
	`anomaly_id` text NOT NULL,
	`id` integer NOT NULL,
	`start` integer NOT NULL,
	`finish` integer NOT NULL,
	`kind` text NOT NULL,
	`confidence` real,
	PRIMARY KEY(`anomaly_id`, `id`),
	FOREIGN KEY (`anomaly_id`) REFERENCES `anomalies`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `segments_by_start` ON `segments` (`anomaly_id`,`start`);