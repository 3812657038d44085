CREATE TABLE `series_cache` (
	`target_key` text PRIMARY KEY NOT NULL,
	`covered_from` integer NOT NULL,
	`covered_to` integer NOT NULL,
	`last_point_at` integer,
	`series_name` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `series_chunks` (
	`target_key` text NOT NULL,
	`day` integer NOT NULL,
	`points` integer NOT NULL,
	`t` blob NOT NULL,
	`v` blob NOT NULL,
	PRIMARY KEY(`target_key`, `day`)
);
--> statement-breakpoint
ALTER TABLE `anomalies` ADD `target_key` text;--> statement-breakpoint
ALTER TABLE `anomalies` ADD `series_name` text;